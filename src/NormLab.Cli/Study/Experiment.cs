namespace NormLab.Cli.Study;

/// <summary>One experiment of the study: an id (E1…E6), a title and the survey's claim it tests.</summary>
internal abstract class Experiment
{
    public abstract string Id { get; }
    public abstract string Title { get; }
    public abstract string Claim { get; }

    /// <summary>Part of the experiment's cache key: bumped when its design changes, so a cached result of the old design is not reused (its training runs still are).</summary>
    public virtual int Version => 4;

    /// <summary>Runs the experiment (reusing cached runs) and computes its finding from the measurements.</summary>
    public abstract ExperimentResult Run(StudyContext context);

    /// <summary>A result with this experiment's id, title and claim.</summary>
    protected ExperimentResult Result(bool held, string finding, Dictionary<string, object?> values, List<Table> tables, List<Figure> figures) => new()
    {
        Id = Id, Title = Title, Claim = Claim, Held = held, Finding = finding, Values = values, Tables = tables, Figures = figures,
    };

    /// <summary>Every experiment, in order.</summary>
    public static IReadOnlyList<Experiment> All { get; } = new Experiment[]
    {
        new ConditioningExperiment(), new BatchSizeExperiment(), new WhiteningExperiment(),
        new HessianExperiment(), new ScaleInvarianceExperiment(), new LargeBatchExperiment(),
    };
}
