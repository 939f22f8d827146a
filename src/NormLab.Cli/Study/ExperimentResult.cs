namespace NormLab.Cli.Study;

/// <summary>A line of a figure: a label and its points.</summary>
internal sealed record Series(string Label, double[] X, double[] Y);

/// <summary>What a figure draws.</summary>
internal enum FigureKind
{
    /// <summary>Lines with markers.</summary>
    Line,
    /// <summary>Grouped bars: one group per x position, one bar per series.</summary>
    Bars,
}

/// <summary>A plot of an experiment, rendered to DIR/&lt;experiment&gt;-&lt;name&gt;.png.</summary>
internal sealed record Figure(string Name, string Title, string XLabel, string YLabel, List<Series> Series,
    FigureKind Kind = FigureKind.Line, bool LogX = false, bool LogY = false, string[]? XTicks = null);

/// <summary>A table of an experiment; every table of an experiment goes to DIR/&lt;experiment&gt;.csv.</summary>
internal sealed record Table(string Name, string Caption, string[] Columns, List<object?[]> Rows);

/// <summary>
/// The outcome of one experiment: the claim it tests, whether the measurements support it, a finding
/// sentence computed from the numbers, the numbers behind it, and its tables and figures.
/// </summary>
internal sealed class ExperimentResult
{
    public required string Id { get; init; }
    public required string Title { get; init; }
    public required string Claim { get; init; }
    public required bool Held { get; init; }
    public required string Finding { get; init; }
    public Dictionary<string, object?> Values { get; init; } = new();
    public List<Table> Tables { get; init; } = new();
    public List<Figure> Figures { get; init; } = new();
    public double Seconds { get; set; }
}
