namespace NormLab.Registry;

/// <summary>One registered method: names, paper, formula, keys and a factory.</summary>
/// <typeparam name="TContext">What the factory needs besides the arguments (a feature shape, a module, parameters).</typeparam>
/// <typeparam name="TResult">What it creates.</typeparam>
public sealed class SpecEntry<TContext, TResult>
{
    /// <summary>Creates an entry.</summary>
    public SpecEntry(string name, string[] aliases, string summary, string paper, string formula,
        SpecKey[] keys, Func<SpecArgs, TContext, TResult> create)
    {
        Name = name;
        Aliases = aliases;
        Summary = summary;
        Paper = paper;
        Formula = formula;
        Keys = keys;
        Create = create;
    }

    /// <summary>The canonical lowercase name.</summary>
    public string Name { get; }

    /// <summary>Other accepted names.</summary>
    public IReadOnlyList<string> Aliases { get; }

    /// <summary>What it is, in one line.</summary>
    public string Summary { get; }

    /// <summary>The paper (authors, year, title).</summary>
    public string Paper { get; }

    /// <summary>The defining formula in one line.</summary>
    public string Formula { get; }

    /// <summary>The keys its spec accepts.</summary>
    public IReadOnlyList<SpecKey> Keys { get; }

    /// <summary>Builds the method from validated arguments.</summary>
    public Func<SpecArgs, TContext, TResult> Create { get; }
}

/// <summary>
/// Maps spec strings (<c>name(key=value,...)</c>) to objects. Unknown names and keys are errors that
/// list the valid ones. Normalizers, weight normalizers and optimizers each have one.
/// </summary>
public class SpecRegistry<TContext, TResult>
{
    private readonly string _kind;
    private readonly List<SpecEntry<TContext, TResult>> _entries = new();
    private readonly Dictionary<string, SpecEntry<TContext, TResult>> _byName = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Creates an empty registry of a kind of method ("normalizer", "optimizer", ...).</summary>
    public SpecRegistry(string kind) => _kind = kind;

    /// <summary>Every entry, in registration order.</summary>
    public IReadOnlyList<SpecEntry<TContext, TResult>> Entries => _entries;

    /// <summary>Adds an entry.</summary>
    /// <exception cref="InvalidOperationException">a name or alias is already taken.</exception>
    public void Add(SpecEntry<TContext, TResult> entry)
    {
        foreach (var name in entry.Aliases.Prepend(entry.Name))
            if (!_byName.TryAdd(name, entry))
                throw new InvalidOperationException($"{_kind} name '{name}' is registered twice");
        _entries.Add(entry);
    }

    /// <summary>Finds an entry by name or alias.</summary>
    /// <exception cref="SpecException">an unknown name; the message lists every valid one.</exception>
    public SpecEntry<TContext, TResult> Find(string name) =>
        _byName.TryGetValue(name, out var e) ? e
            : throw new SpecException($"unknown {_kind} '{name}'; valid: {string.Join(", ", _entries.Select(x => x.Name))}");

    /// <summary>Whether a name or alias is registered.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Parses a spec and validates it against its entry.</summary>
    public (SpecEntry<TContext, TResult> Entry, SpecArgs Args) Resolve(Spec spec)
    {
        var entry = Find(spec.Name);
        return (entry, new SpecArgs(entry.Name, spec, entry.Keys));
    }

    /// <summary>Creates the object a spec describes.</summary>
    /// <exception cref="SpecException">a malformed spec, unknown name or key, or bad value.</exception>
    /// <exception cref="ArgumentException">a value the method rejects, such as groups not dividing the channels.</exception>
    public TResult Create(string spec, TContext context) => Create(Spec.Parse(spec), context);

    /// <summary>Creates the object a parsed spec describes.</summary>
    public TResult Create(Spec spec, TContext context)
    {
        var (entry, args) = Resolve(spec);
        return entry.Create(args, context);
    }
}
