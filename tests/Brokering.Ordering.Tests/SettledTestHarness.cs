using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Brokering.Ordering.Tests;

/// <summary>
/// MassTransit's test harness whose message lists answer once the bus has settled (<see cref="BusSettlement"/>):
/// <c>Published.Any&lt;T&gt;()</c>, <c>Sent.Select&lt;T&gt;()</c> and the like first wait until every message the saga
/// was sent has been received, then read what is there. The lists of the harness underneath never wait on their own
/// (it is made inactive at once), so no look-up depends on how quiet the machine is.
/// </summary>
internal sealed class SettledTestHarness(ITestHarness inner, BusSettlement settlement, TimeSpan patience) : ITestHarness
{
    public IBus Bus => inner.Bus;

    public IServiceScope Scope => inner.Scope;

    public IServiceProvider Provider => inner.Provider;

    public IEndpointNameFormatter EndpointNameFormatter => inner.EndpointNameFormatter;

    public TimeSpan TestTimeout { get => inner.TestTimeout; set => inner.TestTimeout = value; }

    public TimeSpan TestInactivityTimeout { get => inner.TestInactivityTimeout; set => inner.TestInactivityTimeout = value; }

    public CancellationToken CancellationToken => inner.CancellationToken;

    public CancellationToken InactivityToken => inner.InactivityToken;

    public Task InactivityTask => inner.InactivityTask;

    public IReceivedMessageList Consumed => new SettledReceivedList(inner.Consumed, this);

    public IPublishedMessageList Published => new SettledPublishedList(inner.Published, this);

    public ISentMessageList Sent => new SettledSentList(inner.Sent, this);

    /// <summary>Waits until the bus has settled.</summary>
    public Task SettledAsync(CancellationToken cancellationToken = default) => settlement.WaitAsync(patience, cancellationToken);

    public void Settled(CancellationToken cancellationToken = default) => settlement.Wait(patience, cancellationToken);

    public void Cancel() => inner.Cancel();

    public void ForceInactive() => inner.ForceInactive();

    public Task Start() => inner.Start();

    public TaskCompletionSource<T> GetTask<T>() => inner.GetTask<T>();

    public IConsumerTestHarness<T> GetConsumerHarness<T>()
        where T : class, IConsumer => inner.GetConsumerHarness<T>();

    public ISagaTestHarness<T> GetSagaHarness<T>()
        where T : class, ISaga => inner.GetSagaHarness<T>();

    public ISagaStateMachineTestHarness<TStateMachine, T> GetSagaStateMachineHarness<TStateMachine, T>()
        where TStateMachine : class, SagaStateMachine<T>
        where T : class, SagaStateMachineInstance => inner.GetSagaStateMachineHarness<TStateMachine, T>();

    public IRequestClient<T> GetRequestClient<T>()
        where T : class => inner.GetRequestClient<T>();

    public Task<ISendEndpoint> GetConsumerEndpoint<T>()
        where T : class, IConsumer => inner.GetConsumerEndpoint<T>();

    public Task<ISendEndpoint> GetHandlerEndpoint<T>()
        where T : class => inner.GetHandlerEndpoint<T>();

    public Uri GetConsumerAddress<T>()
        where T : class, IConsumer => inner.GetConsumerAddress<T>();

    public Uri GetHandlerAddress<T>()
        where T : class => inner.GetHandlerAddress<T>();

    public Task<ISendEndpoint> GetSagaEndpoint<T>()
        where T : class, ISaga => inner.GetSagaEndpoint<T>();

    public Uri GetSagaAddress<T>()
        where T : class, ISaga => inner.GetSagaAddress<T>();

    public Task<ISendEndpoint> GetExecuteActivityEndpoint<T, TArguments>()
        where T : class, IExecuteActivity<TArguments>
        where TArguments : class => inner.GetExecuteActivityEndpoint<T, TArguments>();

    public Uri GetExecuteActivityAddress<T, TArguments>()
        where T : class, IExecuteActivity<TArguments>
        where TArguments : class => inner.GetExecuteActivityAddress<T, TArguments>();

    private sealed class SettledPublishedList(IPublishedMessageList inner, SettledTestHarness harness) : IPublishedMessageList
    {
        public IEnumerable<IPublishedMessage> Select(FilterDelegate<IPublishedMessage> filter, CancellationToken cancellationToken = default)
        {
            harness.Settled(cancellationToken);
            return inner.Select(filter, cancellationToken);
        }

        public IEnumerable<IPublishedMessage<T>> Select<T>(CancellationToken cancellationToken = default)
            where T : class
        {
            harness.Settled(cancellationToken);
            return inner.Select<T>(cancellationToken);
        }

        public IEnumerable<IPublishedMessage<T>> Select<T>(FilterDelegate<IPublishedMessage<T>> filter, CancellationToken cancellationToken = default)
            where T : class
        {
            harness.Settled(cancellationToken);
            return inner.Select(filter, cancellationToken);
        }

        public async IAsyncEnumerable<IPublishedMessage> SelectAsync(FilterDelegate<IPublishedMessage> filter,
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await harness.SettledAsync(cancellationToken);
            await foreach (var message in inner.SelectAsync(filter, cancellationToken))
            {
                yield return message;
            }
        }

        public async IAsyncEnumerable<IPublishedMessage> SelectAsync(Action<PublishedMessageFilter> apply,
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await harness.SettledAsync(cancellationToken);
            await foreach (var message in inner.SelectAsync(apply, cancellationToken))
            {
                yield return message;
            }
        }

        public async IAsyncEnumerable<IPublishedMessage<T>> SelectAsync<T>(
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
            where T : class
        {
            await harness.SettledAsync(cancellationToken);
            await foreach (var message in inner.SelectAsync<T>(cancellationToken))
            {
                yield return message;
            }
        }

        public async IAsyncEnumerable<IPublishedMessage<T>> SelectAsync<T>(FilterDelegate<IPublishedMessage<T>> filter,
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
            where T : class
        {
            await harness.SettledAsync(cancellationToken);
            await foreach (var message in inner.SelectAsync(filter, cancellationToken))
            {
                yield return message;
            }
        }

        public async Task<bool> Any(FilterDelegate<IPublishedMessage> filter, CancellationToken cancellationToken = default)
        {
            await harness.SettledAsync(cancellationToken);
            return await inner.Any(filter, cancellationToken);
        }

        public async Task<bool> Any(Action<PublishedMessageFilter>? apply = null, CancellationToken cancellationToken = default)
        {
            await harness.SettledAsync(cancellationToken);
            return await inner.Any(apply, cancellationToken);
        }

        public async Task<bool> Any<T>(CancellationToken cancellationToken = default)
            where T : class
        {
            await harness.SettledAsync(cancellationToken);
            return await inner.Any<T>(cancellationToken);
        }

        public async Task<bool> Any<T>(FilterDelegate<IPublishedMessage<T>> filter, CancellationToken cancellationToken = default)
            where T : class
        {
            await harness.SettledAsync(cancellationToken);
            return await inner.Any(filter, cancellationToken);
        }
    }

    private sealed class SettledSentList(ISentMessageList inner, SettledTestHarness harness) : ISentMessageList
    {
        public IEnumerable<ISentMessage> Select(FilterDelegate<ISentMessage> filter, CancellationToken cancellationToken = default)
        {
            harness.Settled(cancellationToken);
            return inner.Select(filter, cancellationToken);
        }

        public IEnumerable<ISentMessage<T>> Select<T>(CancellationToken cancellationToken = default)
            where T : class
        {
            harness.Settled(cancellationToken);
            return inner.Select<T>(cancellationToken);
        }

        public IEnumerable<ISentMessage<T>> Select<T>(FilterDelegate<ISentMessage<T>> filter, CancellationToken cancellationToken = default)
            where T : class
        {
            harness.Settled(cancellationToken);
            return inner.Select(filter, cancellationToken);
        }

        public async IAsyncEnumerable<ISentMessage> SelectAsync(FilterDelegate<ISentMessage> filter,
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await harness.SettledAsync(cancellationToken);
            await foreach (var message in inner.SelectAsync(filter, cancellationToken))
            {
                yield return message;
            }
        }

        public async IAsyncEnumerable<ISentMessage> SelectAsync(Action<SentMessageFilter> apply,
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await harness.SettledAsync(cancellationToken);
            await foreach (var message in inner.SelectAsync(apply, cancellationToken))
            {
                yield return message;
            }
        }

        public async IAsyncEnumerable<ISentMessage<T>> SelectAsync<T>(
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
            where T : class
        {
            await harness.SettledAsync(cancellationToken);
            await foreach (var message in inner.SelectAsync<T>(cancellationToken))
            {
                yield return message;
            }
        }

        public async IAsyncEnumerable<ISentMessage<T>> SelectAsync<T>(FilterDelegate<ISentMessage<T>> filter,
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
            where T : class
        {
            await harness.SettledAsync(cancellationToken);
            await foreach (var message in inner.SelectAsync(filter, cancellationToken))
            {
                yield return message;
            }
        }

        public async Task<bool> Any(FilterDelegate<ISentMessage> filter, CancellationToken cancellationToken = default)
        {
            await harness.SettledAsync(cancellationToken);
            return await inner.Any(filter, cancellationToken);
        }

        public async Task<bool> Any(Action<SentMessageFilter>? apply = null, CancellationToken cancellationToken = default)
        {
            await harness.SettledAsync(cancellationToken);
            return await inner.Any(apply, cancellationToken);
        }

        public async Task<bool> Any<T>(CancellationToken cancellationToken = default)
            where T : class
        {
            await harness.SettledAsync(cancellationToken);
            return await inner.Any<T>(cancellationToken);
        }

        public async Task<bool> Any<T>(FilterDelegate<ISentMessage<T>> filter, CancellationToken cancellationToken = default)
            where T : class
        {
            await harness.SettledAsync(cancellationToken);
            return await inner.Any(filter, cancellationToken);
        }
    }

    private sealed class SettledReceivedList(IReceivedMessageList inner, SettledTestHarness harness) : IReceivedMessageList
    {
        public IEnumerable<IReceivedMessage> Select(FilterDelegate<IReceivedMessage> filter, CancellationToken cancellationToken = default)
        {
            harness.Settled(cancellationToken);
            return inner.Select(filter, cancellationToken);
        }

        public IEnumerable<IReceivedMessage<T>> Select<T>(CancellationToken cancellationToken = default)
            where T : class
        {
            harness.Settled(cancellationToken);
            return inner.Select<T>(cancellationToken);
        }

        public IEnumerable<IReceivedMessage<T>> Select<T>(FilterDelegate<IReceivedMessage<T>> filter, CancellationToken cancellationToken = default)
            where T : class
        {
            harness.Settled(cancellationToken);
            return inner.Select(filter, cancellationToken);
        }

        public async IAsyncEnumerable<IReceivedMessage> SelectAsync(FilterDelegate<IReceivedMessage> filter,
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await harness.SettledAsync(cancellationToken);
            await foreach (var message in inner.SelectAsync(filter, cancellationToken))
            {
                yield return message;
            }
        }

        public async IAsyncEnumerable<IReceivedMessage> SelectAsync(Action<ReceivedMessageFilter> apply,
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await harness.SettledAsync(cancellationToken);
            await foreach (var message in inner.SelectAsync(apply, cancellationToken))
            {
                yield return message;
            }
        }

        public async IAsyncEnumerable<IReceivedMessage<T>> SelectAsync<T>(
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
            where T : class
        {
            await harness.SettledAsync(cancellationToken);
            await foreach (var message in inner.SelectAsync<T>(cancellationToken))
            {
                yield return message;
            }
        }

        public async IAsyncEnumerable<IReceivedMessage<T>> SelectAsync<T>(FilterDelegate<IReceivedMessage<T>> filter,
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
            where T : class
        {
            await harness.SettledAsync(cancellationToken);
            await foreach (var message in inner.SelectAsync(filter, cancellationToken))
            {
                yield return message;
            }
        }

        public async Task<bool> Any(FilterDelegate<IReceivedMessage> filter, CancellationToken cancellationToken = default)
        {
            await harness.SettledAsync(cancellationToken);
            return await inner.Any(filter, cancellationToken);
        }

        public async Task<bool> Any(Action<ReceivedMessageFilter>? apply = null, CancellationToken cancellationToken = default)
        {
            await harness.SettledAsync(cancellationToken);
            return await inner.Any(apply, cancellationToken);
        }

        public async Task<bool> Any<T>(CancellationToken cancellationToken = default)
            where T : class
        {
            await harness.SettledAsync(cancellationToken);
            return await inner.Any<T>(cancellationToken);
        }

        public async Task<bool> Any<T>(FilterDelegate<IReceivedMessage<T>> filter, CancellationToken cancellationToken = default)
            where T : class
        {
            await harness.SettledAsync(cancellationToken);
            return await inner.Any(filter, cancellationToken);
        }
    }
}
