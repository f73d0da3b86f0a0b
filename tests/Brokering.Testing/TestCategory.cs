namespace Brokering.Testing;

/// <summary>
/// The trait that marks tests needing no server (no PostgreSQL, RabbitMQ or service process), so
/// <c>deploy/local/test.sh --unit</c> can run them alone: <c>[assembly: Trait(TestCategory.Trait, TestCategory.Unit)]</c>
/// on an assembly of such tests only, <c>[Trait(TestCategory.Trait, TestCategory.Unit)]</c> on a class elsewhere.
/// </summary>
public static class TestCategory
{
    public const string Trait = "Category";

    public const string Unit = "Unit";
}
