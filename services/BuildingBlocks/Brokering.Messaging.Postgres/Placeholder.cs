namespace Brokering.Messaging.Postgres;
