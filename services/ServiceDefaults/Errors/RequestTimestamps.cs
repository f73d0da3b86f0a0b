using System.Collections;
using System.Collections.Concurrent;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;

namespace Brokering.ServiceDefaults.Errors;

/// <summary>
/// Every <c>google.protobuf.Timestamp</c> of a request, wherever it sits in the message, is one .NET can read, checked
/// once for every method of every service before a handler sees it. The wire carries any 64-bit seconds and 32-bit
/// nanos; <c>ToDateTimeOffset()</c> throws on what falls outside 0001-01-01 to 9999-12-31 or outside a second, and a
/// handler that did not catch it answered INTERNAL for the caller's bad value (a classification's <c>at</c>, a hold's
/// <c>expires_at</c>). The answer is INVALID_ARGUMENT naming the field by its path (<c>lines[2].cutoff</c>).
/// </summary>
internal static class RequestTimestamps
{
    // 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range Timestamp's own conversion accepts.
    private const long MinSeconds = -62_135_596_800;
    private const long MaxSeconds = 253_402_300_799;

    // Per message type, the fields that are or lead to a Timestamp; most requests have none, and cost one lookup.
    private static readonly ConcurrentDictionary<MessageDescriptor, FieldDescriptor[]> Paths = new();

    /// <summary>Throws INVALID_ARGUMENT for the first timestamp of <paramref name="request"/> that cannot be read.</summary>
    public static void Check(object? request)
    {
        if (request is IMessage message && FirstInvalid(message, prefix: null) is { } field)
        {
            const string Description = "not a valid timestamp: seconds from 0001-01-01 to 9999-12-31 UTC, nanos 0 to 999999999.";
            throw new Google.Rpc.Status
            {
                Code = (int)Code.InvalidArgument,
                Message = $"{field}: {Description}",
                Details =
                {
                    Any.Pack(new BadRequest { FieldViolations = { new BadRequest.Types.FieldViolation { Field = field, Description = Description } } }),
                },
            }.ToRpcException();
        }
    }

    private static string? FirstInvalid(IMessage message, string? prefix)
    {
        if (message is Timestamp timestamp)
        {
            return timestamp.Seconds is >= MinSeconds and <= MaxSeconds && timestamp.Nanos is >= 0 and <= 999_999_999 ? null : prefix;
        }

        foreach (var field in Paths.GetOrAdd(message.Descriptor, LeadingToTimestamps))
        {
            var path = prefix is null ? field.Name : $"{prefix}.{field.Name}";
            var value = field.Accessor.GetValue(message);
            if (field.IsMap)
            {
                foreach (DictionaryEntry entry in (IDictionary)value)
                {
                    if (entry.Value is IMessage item && FirstInvalid(item, $"{path}[{entry.Key}]") is { } found)
                    {
                        return found;
                    }
                }
            }
            else if (field.IsRepeated)
            {
                var index = 0;
                foreach (var item in (IList)value)
                {
                    if (item is IMessage element && FirstInvalid(element, $"{path}[{index}]") is { } found)
                    {
                        return found;
                    }

                    index++;
                }
            }
            else if (value is IMessage nested && FirstInvalid(nested, path) is { } found)
            {
                return found;
            }
        }

        return null;
    }

    private static FieldDescriptor[] LeadingToTimestamps(MessageDescriptor descriptor) =>
        [.. descriptor.Fields.InFieldNumberOrder().Where(field => MessageOf(field) is { } type && Reaches(type, []))];

    // A map's value is the second field of its entry type.
    private static MessageDescriptor? MessageOf(FieldDescriptor field) =>
        field.IsMap ? field.MessageType.Fields.InFieldNumberOrder()[1] is { FieldType: FieldType.Message } value ? value.MessageType : null
        : field.FieldType == FieldType.Message ? field.MessageType
        : null;

    private static bool Reaches(MessageDescriptor type, HashSet<MessageDescriptor> visited) =>
        type.FullName == Timestamp.Descriptor.FullName
        || (visited.Add(type) && type.Fields.InFieldNumberOrder().Any(field => MessageOf(field) is { } next && Reaches(next, visited)));
}
