namespace NormLab.Cli;

/// <summary>A usage error: an unknown, missing or malformed option. Exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// The options of one command: <c>--name value</c>, <c>--name=value</c>, repeated options and flags.
/// Every option must be declared by the command; leftovers are a usage error that lists the valid ones.
/// </summary>
public sealed class CommandLine
{
    private readonly string _command;
    private readonly List<(string Name, string? Value)> _items = new();
    private readonly HashSet<string> _declared = new(StringComparer.Ordinal);
    private readonly List<string> _positionals = new();

    /// <summary>Splits <paramref name="args"/> into options; a value-taking option consumes the next word.</summary>
    public CommandLine(string command, IEnumerable<string> args, IReadOnlySet<string> flags)
    {
        _command = command;
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            string a = list[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length == 2)
            {
                _positionals.Add(a);
                continue;
            }
            string name = a[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            // A trailing option without a value is kept as null: Get reports it when the command reads it,
            // EnsureAllUsed when the command does not know it.
            else if (!flags.Contains(name) && i + 1 < list.Count) value = list[++i];
            _items.Add((name, value));
        }
    }

    /// <summary>Positional words, in order.</summary>
    public IReadOnlyList<string> Positionals => _positionals;

    /// <summary>The value of a single-valued option, or null when absent.</summary>
    public string? Get(string name)
    {
        _declared.Add(name);
        var found = _items.Where(i => i.Name == name).ToList();
        if (found.Count > 1) throw new UsageException($"{_command}: option --{name} is given {found.Count} times");
        return found.Count == 0 ? null : found[0].Value ?? throw new UsageException($"{_command}: option --{name} needs a value");
    }

    /// <summary>The value of a required option.</summary>
    public string Require(string name) => Get(name) ?? throw new UsageException($"{_command}: missing required option --{name}");

    /// <summary>Every value of a repeatable option.</summary>
    public IReadOnlyList<string> GetAll(string name)
    {
        _declared.Add(name);
        return _items.Where(i => i.Name == name)
            .Select(i => i.Value ?? throw new UsageException($"{_command}: option --{name} needs a value")).ToList();
    }

    /// <summary>Whether a flag is present.</summary>
    public bool Flag(string name)
    {
        _declared.Add(name);
        return _items.Any(i => i.Name == name);
    }

    /// <summary>An integer option.</summary>
    public long? GetLong(string name) => Get(name) is { } v
        ? long.TryParse(v, out var n) ? n : throw new UsageException($"{_command}: --{name} must be an integer, got '{v}'")
        : null;

    /// <summary>A choice option.</summary>
    public string? GetChoice(string name, params string[] choices) => Get(name) is { } v
        ? choices.Contains(v) ? v : throw new UsageException($"{_command}: --{name} must be one of {string.Join("|", choices)}, got '{v}'")
        : null;

    /// <summary>Throws when an option was given that the command did not read, or positionals are left.</summary>
    public void EnsureAllUsed(int positionals = 0)
    {
        var unknown = _items.Select(i => i.Name).Where(n => !_declared.Contains(n)).Distinct().ToList();
        if (unknown.Count > 0)
            throw new UsageException($"{_command}: unknown option --{unknown[0]}; valid: {string.Join(", ", _declared.OrderBy(d => d).Select(d => "--" + d))}");
        if (_positionals.Count > positionals)
            throw new UsageException($"{_command}: unexpected argument '{_positionals[positionals]}'");
    }

    /// <summary>Splits a KEY=VALUE option value.</summary>
    public (string Key, string Value) KeyValue(string option, string text)
    {
        int eq = text.IndexOf('=');
        if (eq <= 0 || eq == text.Length - 1)
            throw new UsageException($"{_command}: --{option} expects KEY=FILE, got '{text}'");
        return (text[..eq], text[(eq + 1)..]);
    }
}
