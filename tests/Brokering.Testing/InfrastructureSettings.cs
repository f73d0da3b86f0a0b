namespace Brokering.Testing;

/// <summary>Where the PostgreSQL server and RabbitMQ broker used by the tests live.</summary>
/// <param name="Source">Human-readable origin of the settings (environment, containers, defaults).</param>
/// <param name="PostgresConnectionString">Superuser connection string without a database name.</param>
/// <param name="RabbitMqUri">AMQP URI of the broker's default virtual host.</param>
/// <param name="RabbitMqManagementUri">Management HTTP API base address, credentials in its user info.</param>
public sealed record InfrastructureSettings(
    string Source,
    string PostgresConnectionString,
    Uri RabbitMqUri,
    Uri RabbitMqManagementUri);
