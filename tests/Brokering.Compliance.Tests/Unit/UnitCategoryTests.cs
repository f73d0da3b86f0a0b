using System.Reflection;
using Brokering.Testing;

namespace Brokering.Compliance.Tests.Unit;

/// <summary>
/// This project holds unit and integration tests side by side, and <c>deploy/local/test.sh --unit</c> runs the ones
/// marked <see cref="TestCategory.Unit"/>: every test class in the <c>Unit</c> folder carries the mark, and none
/// elsewhere does (those need PostgreSQL and RabbitMQ), so a new test lands in the loop its folder says.
/// </summary>
[Trait(TestCategory.Trait, TestCategory.Unit)]
public sealed class UnitCategoryTests
{
    [Fact]
    public void Every_test_class_in_the_Unit_folder_and_only_there_is_marked_as_a_unit_test()
    {
        var unitNamespace = typeof(UnitCategoryTests).Namespace!;
        var testClasses = typeof(UnitCategoryTests).Assembly.GetTypes()
            .Where(type => type.GetMethods().Any(method => method.GetCustomAttributes<FactAttribute>(inherit: true).Any()))
            .ToList();

        testClasses.ShouldNotBeEmpty();
        foreach (var type in testClasses)
        {
            var inUnitFolder = type.Namespace == unitNamespace;
            IsMarkedUnit(type).ShouldBe(inUnitFolder, $"{type.FullName} is {(inUnitFolder ? "in" : "outside")} the Unit folder");
        }
    }

    private static bool IsMarkedUnit(Type type) => type.GetCustomAttributesData().Any(attribute =>
        attribute.AttributeType == typeof(TraitAttribute)
        && attribute.ConstructorArguments is [{ Value: TestCategory.Trait }, { Value: TestCategory.Unit }]);
}
