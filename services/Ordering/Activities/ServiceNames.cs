namespace Brokering.Ordering.Activities;

/// <summary>Names of the services ordering calls; also the names of their resilience pipelines.</summary>
public static class ServiceNames
{
    public const string Compliance = "Compliance";
    public const string Inventory = "Inventory";
}
