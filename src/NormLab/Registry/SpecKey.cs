using System.Globalization;

namespace NormLab.Registry;

/// <summary>The kind of value a spec key takes.</summary>
public enum SpecKind
{
    /// <summary>An integer.</summary>
    Int,
    /// <summary>An integer or null.</summary>
    OptionalInt,
    /// <summary>A real number.</summary>
    Real,
    /// <summary>A real number or null.</summary>
    OptionalReal,
    /// <summary>true or false.</summary>
    Bool,
    /// <summary>One of a fixed set of words.</summary>
    Choice,
    /// <summary>One or more of a fixed set of words, joined by '+' (no repeats).</summary>
    ChoiceSet,
    /// <summary>A nested spec, such as an inner normalizer or optimizer.</summary>
    Spec,
}

/// <summary>A key a registry entry accepts: its name, kind, default and a one-line description.</summary>
/// <param name="Name">The key as written in specs (matched case-insensitively).</param>
/// <param name="Kind">The value kind.</param>
/// <param name="Default">The default value's text ("null" for none).</param>
/// <param name="Doc">A one-line description with the valid range.</param>
/// <param name="Choices">For <see cref="SpecKind.Choice"/>, the allowed words.</param>
public sealed record SpecKey(string Name, SpecKind Kind, string Default, string Doc, string[]? Choices = null)
{
    /// <summary>An integer key.</summary>
    public static SpecKey Int(string name, long @default, string doc) => new(name, SpecKind.Int, @default.ToString(CultureInfo.InvariantCulture), doc);

    /// <summary>An integer key that may be null.</summary>
    public static SpecKey OptionalInt(string name, long? @default, string doc) =>
        new(name, SpecKind.OptionalInt, @default is { } d ? d.ToString(CultureInfo.InvariantCulture) : "null", doc);

    /// <summary>A real-valued key.</summary>
    public static SpecKey Real(string name, double @default, string doc) => new(name, SpecKind.Real, Format(@default), doc);

    /// <summary>A real-valued key that may be null.</summary>
    public static SpecKey OptionalReal(string name, double? @default, string doc) =>
        new(name, SpecKind.OptionalReal, @default is { } d ? Format(d) : "null", doc);

    /// <summary>A boolean key.</summary>
    public static SpecKey Bool(string name, bool @default, string doc) => new(name, SpecKind.Bool, @default ? "true" : "false", doc);

    /// <summary>A key that takes one of <paramref name="choices"/>.</summary>
    public static SpecKey Choice(string name, string @default, string doc, params string[] choices) => new(name, SpecKind.Choice, @default, doc, choices);

    /// <summary>A key that takes one or more of <paramref name="choices"/> joined by '+'.</summary>
    public static SpecKey ChoiceSet(string name, string @default, string doc, params string[] choices) => new(name, SpecKind.ChoiceSet, @default, doc, choices);

    /// <summary>A key that takes a nested spec.</summary>
    public static SpecKey Nested(string name, string @default, string doc) => new(name, SpecKind.Spec, @default, doc);

    /// <summary>"name=default" for listings.</summary>
    public override string ToString() => $"{Name}={Default}";

    private static string Format(double d) => d.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e");
}
