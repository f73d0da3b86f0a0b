using Brokering.Testing;

// Every test here runs without a server: the saga on MassTransit's in-memory harness, the rest plain code.
[assembly: Trait(TestCategory.Trait, TestCategory.Unit)]
