using System.Buffers.Binary;
using System.Collections;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Brokering.Testing;

/// <summary>
/// The hostile material <see cref="EndpointFuzzer"/> sends: strings, JSON bodies shaped after an endpoint's
/// own body type and then damaged, and protobuf messages shaped after a gRPC method's request type, valid
/// or broken at the byte level. Everything is drawn from the <see cref="Random"/> handed in, so a seed
/// replays a run exactly.
/// </summary>
public static class FuzzPayloads
{
    /// <summary>Strings that break naive code: unicode edge cases, control characters, injections, sheer length.</summary>
    public static readonly IReadOnlyList<string> HostileStrings =
    [
        string.Empty,
        "   ",
        "\u0000",
        "NUL\u0000inside",
        "\uFEFFbom-first",
        "\u202Eright-to-left override\u202C",
        "zero\u200Bwidth\u200D\u2060joiners",
        "e\u0301\u0302\u0303\u0304\u0305\u0306\u0307\u0308\u0309\u030A\u030B\u030C\u030D\u030E\u030F",
        "🚀🔥💾🧨👩‍👩‍👧‍👦🏳️‍🌈",
        "𝕳𝖔𝖑𝖉 𝔪𝔞𝔱𝔥 𝓼𝓬𝓻𝓲𝓹𝓽",
        "英伟达 H800 服务器 — 出口管制",
        "ﷺ ﷽ عربى עברית",
        "line\u2028separator\u2029paragraph",
        "\uFFFF\uFFFE noncharacters",
        "\uD800 lone high surrogate",
        "lone low surrogate \uDC00",
        "tab\tnew\nline\rreturn\u0007bell\u001bescape",
        "'; DROP TABLE reservations; --",
        "\" OR \"1\"=\"1",
        "<script>alert(1)</script>",
        "../../../../etc/passwd",
        "..\\..\\windows\\win.ini",
        "%00%2e%2e%2f",
        "{{7*7}}${env:HOME}",
        "NaN",
        "-1",
        "9999999999999999999999999999",
        new string('Ω', 10_000),
        string.Concat(Enumerable.Repeat("👩‍👩‍👧‍👦", 2_000)),
        new string('a', 70_000),
    ];

    /// <summary>Values that are not the number, boolean or id a parameter expects.</summary>
    public static readonly IReadOnlyList<string> WronglyTyped =
    [
        "abc", "1.5", "-1", "0", "1e309", "99999999999999999999999", "-9223372036854775809", "NaN", "Infinity",
        "true", "null", "[]", "{}", "00000000-0000-0000-0000-00000000000g", "2023-13-45T25:61:61Z", "0x1F", "١٢٣",
    ];

    private static readonly string[] ExtremeNumbers = ["1e400", "-1e400", "99999999999999999999999999999", "-9223372036854775809", "-1", "0", "1.0000000000000000000000001", "-0"];

    private static readonly string[] OtherKinds = ["null", "[]", "\"text\"", "1", "true", "[{}]"];

    /// <summary>A hostile string.</summary>
    public static string HostileString(Random random) => HostileStrings[random.Next(HostileStrings.Count)];

    /// <summary>A hostile or wrongly typed value for a route segment, query parameter or field.</summary>
    public static string HostileValue(Random random) =>
        random.Next(3) == 0 ? WronglyTyped[random.Next(WronglyTyped.Count)] : HostileString(random);

    /// <summary>A header value: headers travel as Latin-1, so hostile here means long, odd or empty, not exotic.</summary>
    public static string HostileHeader(Random random) => random.Next(5) switch
    {
        0 => string.Empty,
        1 => new string('k', 8_000),
        2 => "' OR 1=1 --",
        3 => "\t \t",
        _ => "key with spaces; and=semicolons, commas",
    };

    // ---------------------------------------------------------------- JSON

    /// <summary>A JSON document of the shape <paramref name="type"/> serialises to, with ordinary values (strings hostile at <paramref name="hostility"/>).</summary>
    public static JsonNode? Skeleton(Type type, JsonSerializerOptions options, Random random, double hostility, int depth = 0)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string))
        {
            return random.NextDouble() < hostility ? HostileString(random) : "fuzz";
        }

        if (type == typeof(bool))
        {
            return random.Next(2) == 0;
        }

        if (type == typeof(Guid))
        {
            return Guid.NewGuid().ToString();
        }

        if (type == typeof(DateTimeOffset) || type == typeof(DateTime))
        {
            return DateTimeOffset.UtcNow.AddDays(random.Next(-3, 30)).ToString("O");
        }

        if (type == typeof(DateOnly))
        {
            return DateOnly.FromDateTime(DateTime.UtcNow.AddDays(random.Next(-3, 30))).ToString("O");
        }

        if (type == typeof(TimeSpan))
        {
            return "00:05:00";
        }

        if (type.IsEnum)
        {
            var names = Enum.GetNames(type);
            return options.Converters.Any(converter => converter is JsonStringEnumConverter) || type.GetCustomAttributes(typeof(JsonConverterAttribute), false).Length > 0
                ? names[random.Next(names.Length)]
                : JsonValue.Create(random.Next(names.Length));
        }

        if (type.IsPrimitive || type == typeof(decimal))
        {
            return type == typeof(decimal) || type == typeof(double) || type == typeof(float)
                ? JsonValue.Create(random.Next(1, 40_000) + 0.5m)
                : JsonValue.Create(random.Next(1, 100));
        }

        if (depth > 4)
        {
            return null;
        }

        if (type.IsArray || (type != typeof(string) && typeof(IEnumerable).IsAssignableFrom(type)))
        {
            var info = options.GetTypeInfo(type);
            if (info.Kind == JsonTypeInfoKind.Dictionary)
            {
                return new JsonObject { ["fuzz"] = Skeleton(info.ElementType ?? typeof(string), options, random, hostility, depth + 1) };
            }

            var element = info.ElementType ?? typeof(string);
            return new JsonArray([.. Enumerable.Range(0, random.Next(1, 3)).Select(_ => Skeleton(element, options, random, hostility, depth + 1))]);
        }

        var objectInfo = options.GetTypeInfo(type);
        if (objectInfo.Kind != JsonTypeInfoKind.Object)
        {
            return "fuzz";
        }

        var json = new JsonObject();
        if (objectInfo.PolymorphismOptions is { DerivedTypes.Count: > 0 } polymorphism)
        {
            var derived = polymorphism.DerivedTypes[random.Next(polymorphism.DerivedTypes.Count)];
            json[polymorphism.TypeDiscriminatorPropertyName] = derived.TypeDiscriminator?.ToString();
            objectInfo = options.GetTypeInfo(derived.DerivedType);
        }

        foreach (var property in objectInfo.Properties)
        {
            json[property.Name] = Skeleton(property.PropertyType, options, random, hostility, depth + 1);
        }

        return json;
    }

    /// <summary>Damages a JSON document in one of many ways; returns what was done and the bytes to send.</summary>
    public static (string What, byte[] Body) Damage(JsonNode? skeleton, Random random)
    {
        var text = skeleton?.ToJsonString() ?? "{}";
        switch (random.Next(14))
        {
            case 0:
                return ("the body's shape with hostile strings", Encoding.UTF8.GetBytes(text));
            case 1:
                return Replace(skeleton, random, "a field of the wrong type", node => node switch
                {
                    JsonObject => new JsonArray(1, 2),
                    JsonArray => new JsonObject { ["x"] = 1 },
                    JsonValue value when value.GetValueKind() == JsonValueKind.String => JsonValue.Create(random.Next(2) == 0 ? 123 : (object)true),
                    _ => JsonValue.Create(HostileValue(random)),
                });
            case 2:
                return Replace(skeleton, random, "a null field", _ => null);
            case 3:
                return Replace(skeleton, random, "an extreme number", _ => JsonNode.Parse(ExtremeNumbers[random.Next(ExtremeNumbers.Length)]));
            case 4:
                return ("an unknown field", Encoding.UTF8.GetBytes(text.Length > 2 && text[0] == '{' ? "{\"unexpected\":\"x\"," + text[1..] : "{\"unexpected\":1}"));
            case 5:
                return ("a duplicated field", Encoding.UTF8.GetBytes(text.Length > 2 && text[0] == '{' && skeleton is JsonObject { Count: > 0 } o
                    ? "{\"" + o.First().Key + "\":null," + text[1..]
                    : "{\"a\":1,\"a\":2}"));
            case 6:
                var bytes = Encoding.UTF8.GetBytes(text);
                return ("a truncated body", bytes[..random.Next(1, Math.Max(2, bytes.Length))]);
            case 7:
                var quote = text.IndexOf('"', StringComparison.Ordinal);
                var utf8 = Encoding.UTF8.GetBytes(quote < 0 ? "\"" : text[..(quote + 1)]);
                return ("invalid UTF-8 in a string", [.. utf8, 0xC3, 0x28, 0xFF, 0xFE, .. Encoding.UTF8.GetBytes(quote < 0 ? "\"" : text[(quote + 1)..])]);
            case 8:
                return ("nesting far beyond any limit", Encoding.UTF8.GetBytes(new string('[', 10_000) + new string(']', 10_000)));
            case 9:
                var noise = new byte[random.Next(1, 512)];
                random.NextBytes(noise);
                return ("random bytes", noise);
            case 10:
                return ("an empty body", []);
            case 11:
                return ("a JSON value of another kind", Encoding.UTF8.GetBytes(OtherKinds[random.Next(OtherKinds.Length)]));
            case 12:
                return ("an escaped lone surrogate", Encoding.UTF8.GetBytes(text.Replace("\"fuzz\"", "\"\\ud800\\udbff\"", StringComparison.Ordinal) is var escaped && escaped != text
                    ? escaped
                    : "{\"x\":\"\\ud800\"}"));
            default:
                return ("every string hostile", Encoding.UTF8.GetBytes(text.Replace("\"fuzz\"", JsonSerializer.Serialize(HostileString(random)), StringComparison.Ordinal)));
        }
    }

    private static (string, byte[]) Replace(JsonNode? skeleton, Random random, string what, Func<JsonNode?, JsonNode?> replacement)
    {
        var copy = skeleton?.DeepClone();
        var slots = new List<(JsonNode Parent, object Key)>();
        Collect(copy, slots);
        if (slots.Count == 0)
        {
            return (what + " (whole body)", Encoding.UTF8.GetBytes(replacement(copy)?.ToJsonString() ?? "null"));
        }

        var (parent, key) = slots[random.Next(slots.Count)];
        if (parent is JsonObject json)
        {
            json[(string)key] = replacement(json[(string)key]);
        }
        else
        {
            ((JsonArray)parent)[(int)key] = replacement(((JsonArray)parent)[(int)key]);
        }

        return (what, Encoding.UTF8.GetBytes(copy!.ToJsonString()));
    }

    private static void Collect(JsonNode? node, List<(JsonNode, object)> slots)
    {
        switch (node)
        {
            case JsonObject json:
                foreach (var (key, child) in json.ToList())
                {
                    slots.Add((json, key));
                    Collect(child, slots);
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    slots.Add((array, i));
                    Collect(array[i], slots);
                }

                break;
        }
    }

    // ---------------------------------------------------------------- protobuf

    /// <summary>A message of <paramref name="descriptor"/>'s type with fields set to hostile but well-encoded values.</summary>
    public static IMessage Message(MessageDescriptor descriptor, Random random, int depth = 0)
    {
        var message = (IMessage)Activator.CreateInstance(descriptor.ClrType)!;
        foreach (var field in descriptor.Fields.InFieldNumberOrder())
        {
            if (random.Next(4) == 0 || field.IsMap)
            {
                continue;
            }

            if (field.IsRepeated)
            {
                var list = (IList)field.Accessor.GetValue(message);
                for (var i = random.Next(0, 4); i > 0; i--)
                {
                    if (Value(field, random, depth) is { } item)
                    {
                        list.Add(item);
                    }
                }
            }
            else if (Value(field, random, depth) is { } value)
            {
                field.Accessor.SetValue(message, value);
            }
        }

        return message;
    }

    private static object? Value(FieldDescriptor field, Random random, int depth)
    {
        switch (field.FieldType)
        {
            case FieldType.String:
                return ProtobufSafe(HostileString(random));
            case FieldType.Bytes:
                var bytes = new byte[random.Next(0, 64)];
                random.NextBytes(bytes);
                return ByteString.CopyFrom(bytes);
            case FieldType.Bool:
                return random.Next(2) == 0;
            case FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32:
                return new[] { 0, 1, -1, int.MaxValue, int.MinValue, 40 }[random.Next(6)];
            case FieldType.UInt32 or FieldType.Fixed32:
                return new[] { 0u, 1u, uint.MaxValue, 40u }[random.Next(4)];
            case FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64:
                return new[] { 0L, 1L, -1L, long.MaxValue, long.MinValue, 40L }[random.Next(6)];
            case FieldType.UInt64 or FieldType.Fixed64:
                return new[] { 0UL, 1UL, ulong.MaxValue, 40UL }[random.Next(4)];
            case FieldType.Double:
                return new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity, -0.0, double.MaxValue, double.Epsilon, 1.5 }[random.Next(7)];
            case FieldType.Float:
                return new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0.0f, float.MaxValue, 1.5f }[random.Next(6)];
            case FieldType.Enum:
                var values = field.EnumType.Values;
                // Protobuf carries numbers a service's enum does not define; the service must cope.
                var number = random.Next(4) == 0 ? 999 : values[random.Next(values.Count)].Number;
                return Enum.ToObject(field.EnumType.ClrType, number);
            case FieldType.Message:
                if (IsWrapper(field.MessageType))
                {
                    return Value(field.MessageType.FindFieldByNumber(1), random, depth);
                }

                return depth < 3 && field.MessageType.FullName != "google.protobuf.Any" ? Message(field.MessageType, random, depth + 1) : null;
            default:
                return null;
        }
    }

    // A lone surrogate cannot be encoded as UTF-8 at all; protobuf would throw on the client side, not the server's.
    private static string ProtobufSafe(string value)
    {
        var safe = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                safe.Append(value, i++, 2);
            }
            else if (!char.IsSurrogate(value[i]))
            {
                safe.Append(value[i]);
            }
        }

        return safe.ToString();
    }

    private static bool IsWrapper(MessageDescriptor descriptor) =>
        descriptor.File == Google.Protobuf.WellKnownTypes.WrappersReflection.Descriptor;

    /// <summary>
    /// A message of <paramref name="descriptor"/>'s type with every timestamp it can hold (nested and repeated ones too)
    /// set to a well-encoded instant no clock reads (seconds past 9999-12-31, or nanos past a second), or null when the
    /// type holds none.
    /// </summary>
    public static IMessage? WithUnreadableTimestamps(MessageDescriptor descriptor, Random random, int depth = 0)
    {
        if (descriptor.FullName == Google.Protobuf.WellKnownTypes.Timestamp.Descriptor.FullName)
        {
            return random.Next(2) == 0
                ? new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = long.MaxValue - random.Next(1000) }
                : new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = 1_700_000_000, Nanos = 1_000_000_000 + random.Next(1000) };
        }

        if (depth > 3)
        {
            return null;
        }

        IMessage? message = null;
        foreach (var field in descriptor.Fields.InFieldNumberOrder())
        {
            if (field.FieldType != FieldType.Message || field.IsMap || WithUnreadableTimestamps(field.MessageType, random, depth + 1) is not { } value)
            {
                continue;
            }

            message ??= (IMessage)Activator.CreateInstance(descriptor.ClrType)!;
            if (field.IsRepeated)
            {
                ((IList)field.Accessor.GetValue(message)).Add(value);
            }
            else
            {
                field.Accessor.SetValue(message, value);
            }
        }

        return message;
    }

    /// <summary>Bytes that are not a valid encoding of <paramref name="descriptor"/>'s message, each with what is wrong with it.</summary>
    public static IReadOnlyList<(string What, byte[] Bytes)> BrokenMessages(MessageDescriptor descriptor, Random random)
    {
        var valid = Message(descriptor, random).ToByteArray();
        var fields = descriptor.Fields.InFieldNumberOrder();
        var lengthDelimited = fields.FirstOrDefault(f => f.FieldType is FieldType.String or FieldType.Message or FieldType.Bytes);
        var stringField = fields.FirstOrDefault(f => f.FieldType == FieldType.String);
        var noise = new byte[random.Next(1, 64)];
        random.NextBytes(noise);
        var broken = new List<(string, byte[])>
        {
            ("random bytes", noise),
            ("a varint of eleven bytes", [0x08, .. Enumerable.Repeat((byte)0xFF, 10), 0x01]),
            ("a zero tag", [0x00, 0x01]),
            ("an end-group tag without its start", [0x0C]),
            ("a length-delimited field longer than the message", [Tag(lengthDelimited?.FieldNumber ?? 15, 2), 0xE8, 0x07, 0x41, 0x42, 0x43]),
            ("a string field of invalid UTF-8", [Tag(stringField?.FieldNumber ?? lengthDelimited?.FieldNumber ?? 1, 2), 0x04, 0xC3, 0x28, 0xFF, 0xFE]),
            ("a negative length", [Tag(lengthDelimited?.FieldNumber ?? 1, 2), 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x41]),
            ("every field with the wrong wire type", [.. fields.SelectMany<FieldDescriptor, byte>(f =>
                f.FieldType is FieldType.String or FieldType.Message or FieldType.Bytes ? [Tag(f.FieldNumber, 0), 0x96, 0x01] : [Tag(f.FieldNumber, 2), 0x02, 0x41, 0x42])]),
        };
        if (valid.Length > 1)
        {
            broken.Add(("a message cut short", valid[..random.Next(1, valid.Length)]));
        }

        return broken;
    }

    private static byte Tag(int fieldNumber, int wireType) => (byte)(((fieldNumber & 0x0F) << 3) | wireType);

    /// <summary>A gRPC length-prefixed frame around <paramref name="message"/> (uncompressed).</summary>
    public static byte[] Frame(ReadOnlySpan<byte> message, int? declaredLength = null, byte compressed = 0)
    {
        var frame = new byte[5 + message.Length];
        frame[0] = compressed;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)(declaredLength ?? message.Length));
        message.CopyTo(frame.AsSpan(5));
        return frame;
    }
}
