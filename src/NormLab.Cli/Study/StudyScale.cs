namespace NormLab.Cli.Study;

/// <summary>
/// How much work each experiment does. The full scale fits Fashion-MNIST in under an hour on two cores;
/// the quick scale runs the whole study in minutes. Everything the claims rest on is in both.
/// </summary>
internal sealed record StudyScale
{
    /// <summary>The scale's name (tiny, quick, full): part of every cache key and shown in the report.</summary>
    public string Name { get; init; } = "full";

    /// <summary>The scales by name.</summary>
    public static IReadOnlyList<StudyScale> All => new[] { Tiny, Quick, Full };

    /// <summary>Training and test samples of the synthetic images and vectors.</summary>
    public int SyntheticTrain { get; init; } = 6000;
    public int SyntheticTest { get; init; } = 1000;

    /// <summary>Samples and iteration cap of E1's least-squares problems.</summary>
    public int LeastSquaresSamples { get; init; }
    public int LeastSquaresIterations { get; init; }

    /// <summary>Training samples and epochs of the E2/E3/E5 comparison runs.</summary>
    public int Subset { get; init; }
    public int Epochs { get; init; }

    /// <summary>E2's batch sizes.</summary>
    public int[] BatchSizes { get; init; } = { 2, 4, 8, 16, 32, 64 };

    /// <summary>E2's reference run (BN at batch 64): training samples (0 = all) and epochs.</summary>
    public int ReferenceSubset { get; init; }
    public int ReferenceEpochs { get; init; }

    /// <summary>E2's reference run: the CNN's conv widths (null = the default 16-32-64).</summary>
    public long[]? ReferenceWidths { get; init; }

    /// <summary>E3's SND data, batches per probe and probes.</summary>
    public int SndData { get; init; }
    public int SndSamples { get; init; }
    public int SndProbes { get; init; }

    /// <summary>E4's Hessian: samples, power iterations, trace products, Lanczos steps.</summary>
    public int HessianSamples { get; init; }
    public int PowerIterations { get; init; }
    public int TraceProducts { get; init; }
    public int LanczosSteps { get; init; }

    /// <summary>E5's runs: epochs and training samples.</summary>
    public int WeightEpochs { get; init; }
    public int WeightSubset { get; init; }

    /// <summary>E6's large-batch runs: training samples, batch size, epochs.</summary>
    public int LargeBatchSubset { get; init; }
    public int LargeBatch { get; init; }
    public int LargeBatchEpochs { get; init; }

    /// <summary>Seconds on two cores: every experiment with a few hundred images; for tests of the pipeline, not of the claims.</summary>
    public static StudyScale Tiny { get; } = new()
    {
        Name = "tiny",
        SyntheticTrain = 400, SyntheticTest = 200,
        LeastSquaresSamples = 300, LeastSquaresIterations = 300,
        Subset = 64, Epochs = 1, BatchSizes = new[] { 4, 16 },
        ReferenceSubset = 64, ReferenceEpochs = 1,
        SndData = 64, SndSamples = 2, SndProbes = 2,
        HessianSamples = 16, PowerIterations = 2, TraceProducts = 6, LanczosSteps = 4,
        WeightEpochs = 1, WeightSubset = 64,
        LargeBatchSubset = 128, LargeBatch = 64, LargeBatchEpochs = 1,
    };

    /// <summary>A few minutes on two cores on the synthetic data.</summary>
    public static StudyScale Quick { get; } = new()
    {
        Name = "quick",
        LeastSquaresSamples = 2000, LeastSquaresIterations = 5000,
        Subset = 2000, Epochs = 2, BatchSizes = new[] { 2, 8, 64 },
        ReferenceSubset = 4000, ReferenceEpochs = 3,
        SndData = 256, SndSamples = 8, SndProbes = 8,
        HessianSamples = 128, PowerIterations = 15, TraceProducts = 30, LanczosSteps = 20,
        WeightEpochs = 4, WeightSubset = 1000,
        LargeBatchSubset = 4000, LargeBatch = 512, LargeBatchEpochs = 4,
    };

    /// <summary>Under an hour on two cores on Fashion-MNIST.</summary>
    public static StudyScale Full { get; } = new()
    {
        SyntheticTrain = 12000, SyntheticTest = 2000,
        LeastSquaresSamples = 5000, LeastSquaresIterations = 20000,
        Subset = 10000, Epochs = 4,
        ReferenceSubset = 0, ReferenceEpochs = 8, ReferenceWidths = new long[] { 32, 64, 128 },
        SndData = 1024, SndSamples = 16, SndProbes = 16,
        HessianSamples = 512, PowerIterations = 30, TraceProducts = 60, LanczosSteps = 40,
        WeightEpochs = 4, WeightSubset = 5000,
        LargeBatchSubset = 30000, LargeBatch = 1024, LargeBatchEpochs = 4,
    };
}
