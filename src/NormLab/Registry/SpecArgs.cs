using System.Globalization;

namespace NormLab.Registry;

/// <summary>
/// The validated arguments of a spec for one registry entry: every key written is declared by the entry,
/// every value parses as its kind, and absent keys take the entry's defaults.
/// </summary>
public sealed class SpecArgs
{
    private readonly string _entry;
    private readonly Dictionary<string, SpecValue> _values = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, SpecKey> _keys = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Checks <paramref name="spec"/>'s keys against <paramref name="keys"/>.</summary>
    /// <exception cref="SpecException">an unknown key (the message lists the valid ones) or a bad value.</exception>
    public SpecArgs(string entry, Spec spec, IEnumerable<SpecKey> keys)
    {
        _entry = entry;
        foreach (var k in keys) _keys[k.Name] = k;
        foreach (var (key, value) in spec.Args)
        {
            if (!_keys.ContainsKey(key))
                throw new SpecException(_keys.Count == 0
                    ? $"'{entry}' takes no keys, got '{key}'"
                    : $"unknown key '{key}' for '{entry}'; valid keys: {string.Join(", ", _keys.Values.Select(k => k.ToString()))}");
            _values[key] = value;
        }
        foreach (var k in _keys.Values) Validate(k, Text(k.Name));
    }

    /// <summary>The spec text for this entry's arguments, canonicalized (all keys, defaults filled).</summary>
    public override string ToString() =>
        _keys.Count == 0 ? _entry : $"{_entry}({string.Join(",", _keys.Values.Select(k => $"{k.Name}={Text(k.Name)}"))})";

    /// <summary>Whether the key was written in the spec (rather than defaulted).</summary>
    public bool IsSet(string key) => _values.ContainsKey(key);

    /// <summary>An integer key's value.</summary>
    public long Int(string key) => long.Parse(Text(key, SpecKind.Int), CultureInfo.InvariantCulture);

    /// <summary>An optional integer key's value (null when the value is null or none).</summary>
    public long? OptionalInt(string key)
    {
        var text = Text(key, SpecKind.OptionalInt);
        return IsNull(text) ? null : long.Parse(text, CultureInfo.InvariantCulture);
    }

    /// <summary>A real key's value.</summary>
    public double Real(string key) => ParseReal(Text(key, SpecKind.Real, SpecKind.OptionalReal))!.Value;

    /// <summary>An optional real key's value (null when the value is null or none).</summary>
    public double? OptionalReal(string key) => ParseReal(Text(key, SpecKind.OptionalReal));

    /// <summary>A boolean key's value.</summary>
    public bool Bool(string key) => ParseBool(Text(key, SpecKind.Bool))!.Value;

    /// <summary>A choice key's value, lowercased.</summary>
    public string Choice(string key) => Text(key, SpecKind.Choice).ToLowerInvariant();

    /// <summary>A choice-set key's values, lowercased, in the order written.</summary>
    public IReadOnlyList<string> ChoiceSet(string key) => Text(key, SpecKind.ChoiceSet).ToLowerInvariant().Split('+');

    /// <summary>A nested-spec key's value, parsed (a bare name is a spec without arguments).</summary>
    public Spec Nested(string key)
    {
        var text = Text(key, SpecKind.Spec);
        return _values.TryGetValue(key, out var v) && v.Nested is { } nested ? nested : Spec.Parse(text);
    }

    private string Text(string key, params SpecKind[] kinds)
    {
        if (!_keys.TryGetValue(key, out var k))
            throw new InvalidOperationException($"registry entry '{_entry}' reads undeclared key '{key}'");
        if (kinds.Length > 0 && !kinds.Contains(k.Kind))
            throw new InvalidOperationException($"registry entry '{_entry}' reads key '{key}' as {string.Join("/", kinds)} but declares {k.Kind}");
        return _values.TryGetValue(key, out var v) ? v.Text : k.Default;
    }

    private void Validate(SpecKey k, string text)
    {
        bool ok = k.Kind switch
        {
            SpecKind.Int => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out _),
            SpecKind.OptionalInt => IsNull(text) || long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out _),
            SpecKind.Real => ParseReal(text) is not null,
            SpecKind.OptionalReal => IsNull(text) || ParseReal(text) is not null,
            SpecKind.Bool => ParseBool(text) is not null,
            SpecKind.Choice => k.Choices!.Contains(text, StringComparer.OrdinalIgnoreCase),
            SpecKind.ChoiceSet => text.Split('+') is var parts && parts.Distinct(StringComparer.OrdinalIgnoreCase).Count() == parts.Length
                                  && parts.All(part => k.Choices!.Contains(part, StringComparer.OrdinalIgnoreCase)),
            SpecKind.Spec => true,
            _ => false,
        };
        if (!ok)
            throw new SpecException($"'{_entry}': {k.Name} must be {Describe(k)}, got '{text}'");
    }

    private static string Describe(SpecKey k) => k.Kind switch
    {
        SpecKind.Int => "an integer",
        SpecKind.Real => "a number",
        SpecKind.OptionalInt => "an integer or null",
        SpecKind.OptionalReal => "a number or null",
        SpecKind.Bool => "true or false",
        SpecKind.Choice => "one of " + string.Join("|", k.Choices!),
        SpecKind.ChoiceSet => "one or more of " + string.Join("|", k.Choices!) + " joined by '+', without repeats",
        _ => "a spec",
    };

    private static bool IsNull(string text) => text.Equals("null", StringComparison.OrdinalIgnoreCase) || text.Equals("none", StringComparison.OrdinalIgnoreCase);

    private static double? ParseReal(string text) =>
        !IsNull(text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? d : null;

    private static bool? ParseBool(string text) => text.ToLowerInvariant() switch
    {
        "true" or "1" or "yes" => true,
        "false" or "0" or "no" => false,
        _ => null,
    };
}
