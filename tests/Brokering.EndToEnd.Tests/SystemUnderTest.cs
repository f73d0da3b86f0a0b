using Brokering.Testing.Installation;

namespace Brokering.EndToEnd.Tests;

/// <summary>A <see cref="BrokeringSystem"/> whose lifetime xUnit drives: one installation per test class or collection.</summary>
public sealed class SystemUnderTest : BrokeringSystem, IAsyncLifetime;
