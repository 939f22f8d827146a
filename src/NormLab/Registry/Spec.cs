using System.Globalization;
using System.Text;

namespace NormLab.Registry;

/// <summary>
/// A parsed spec string: <c>name</c> or <c>name(key=value, ...)</c>. A value is a literal
/// (<c>32</c>, <c>1e-5</c>, <c>true</c>, <c>null</c>, <c>bw+iw</c>) or a nested spec (<c>gn(groups=8)</c>).
/// </summary>
public sealed class Spec
{
    /// <summary>Creates a spec.</summary>
    public Spec(string name, IReadOnlyList<KeyValuePair<string, SpecValue>> args)
    {
        Name = name;
        Args = args;
    }

    /// <summary>The lowercase name.</summary>
    public string Name { get; }

    /// <summary>The arguments in the order written.</summary>
    public IReadOnlyList<KeyValuePair<string, SpecValue>> Args { get; }

    /// <summary>Parses a spec string.</summary>
    /// <exception cref="SpecException">malformed text, with the position of the problem.</exception>
    public static Spec Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
            throw new SpecException("spec is empty; expected name or name(key=value,...)");
        var parser = new Parser(text);
        var spec = parser.ParseSpec();
        parser.ExpectEnd();
        return spec;
    }

    /// <inheritdoc />
    public override string ToString()
    {
        if (Args.Count == 0) return Name;
        var sb = new StringBuilder(Name).Append('(');
        sb.AppendJoin(",", Args.Select(a => $"{a.Key}={a.Value}"));
        return sb.Append(')').ToString();
    }

    private sealed class Parser(string text)
    {
        private int _pos;

        public Spec ParseSpec()
        {
            SkipSpace();
            string name = Identifier("a name").ToLowerInvariant();
            var args = new List<KeyValuePair<string, SpecValue>>();
            SkipSpace();
            if (Peek() == '(')
            {
                _pos++;
                SkipSpace();
                if (Peek() == ')') { _pos++; return new Spec(name, args); }
                while (true)
                {
                    SkipSpace();
                    string key = Identifier("a key");
                    SkipSpace();
                    if (Peek() != '=') throw Error($"expected '=' after key '{key}'");
                    _pos++;
                    SkipSpace();
                    if (args.Any(a => string.Equals(a.Key, key, StringComparison.OrdinalIgnoreCase))) throw Error($"key '{key}' is given twice");
                    args.Add(new(key, ParseValue()));
                    SkipSpace();
                    char c = Peek();
                    _pos++;
                    if (c == ')') break;
                    if (c != ',') throw Error("expected ',' or ')'", _pos - 1);
                }
            }
            return new Spec(name, args);
        }

        private SpecValue ParseValue()
        {
            int start = _pos;
            int depth = 0;
            while (_pos < text.Length)
            {
                char c = text[_pos];
                if (c == '(') depth++;
                else if (c == ')') { if (depth == 0) break; depth--; }
                else if (c == ',' && depth == 0) break;
                _pos++;
            }
            string raw = text[start.._pos].Trim();
            if (raw.Length == 0) throw Error("expected a value", start);
            if (raw.Contains('('))
            {
                try { return new SpecValue(raw, Spec.Parse(raw)); }
                catch (SpecException e) { throw Error($"in nested spec '{raw}': {e.Message}", start); }
            }
            return new SpecValue(raw, null);
        }

        private string Identifier(string what)
        {
            int start = _pos;
            while (_pos < text.Length && (char.IsLetterOrDigit(text[_pos]) || text[_pos] is '_' or '-' or '.'))
                _pos++;
            if (_pos == start) throw Error($"expected {what}");
            return text[start.._pos];
        }

        public void ExpectEnd()
        {
            SkipSpace();
            if (_pos != text.Length) throw Error("unexpected text after the spec");
        }

        private char Peek() => _pos < text.Length ? text[_pos] : '\0';

        private void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }

        private SpecException Error(string message, int? at = null) =>
            new($"{message} at position {(at ?? _pos) + 1} of spec '{text}'");
    }
}

/// <summary>A spec argument's value: the text written and, for a nested spec, its parse.</summary>
public sealed record SpecValue(string Text, Spec? Nested)
{
    /// <inheritdoc />
    public override string ToString() => Text;
}

/// <summary>A malformed spec, an unknown name or key, or a bad value. The message lists what is valid.</summary>
public sealed class SpecException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    public SpecException(string message) : base(message, "spec") { }

    /// <inheritdoc />
    public override string Message => base.Message.Replace(" (Parameter 'spec')", "");
}
