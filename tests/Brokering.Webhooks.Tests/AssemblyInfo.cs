using Brokering.Testing;

// Every test here runs without a server: the building block's rules as plain code.
[assembly: Trait(TestCategory.Trait, TestCategory.Unit)]
