using Brokering.Testing;

// Every test here runs without a server.
[assembly: Trait(TestCategory.Trait, TestCategory.Unit)]
