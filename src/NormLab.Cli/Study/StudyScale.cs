namespace NormLab.Cli.Study;

/// <summary>
/// How much work each experiment does. The full scale fits Fashion-MNIST in under an hour on two cores;
/// the quick scale runs the whole study in minutes. Everything the claims rest on is in both.
/// </summary>
internal sealed record StudyScale
{
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

    /// <summary>E3's SND data, batches per probe and probes.</summary>
    public int SndData { get; init; }
    public int SndSamples { get; init; }
    public int SndProbes { get; init; }

    /// <summary>E4's Hessian: samples, power iterations, trace products, Lanczos steps.</summary>
    public int HessianSamples { get; init; }
    public int PowerIterations { get; init; }
    public int TraceProducts { get; init; }
    public int LanczosSteps { get; init; }

    /// <summary>E6's large-batch runs: training samples, batch size, epochs.</summary>
    public int LargeBatchSubset { get; init; }
    public int LargeBatch { get; init; }
    public int LargeBatchEpochs { get; init; }

    public static StudyScale Quick { get; } = new()
    {
        LeastSquaresSamples = 2000, LeastSquaresIterations = 5000,
        Subset = 1000, Epochs = 1,
        ReferenceSubset = 3000, ReferenceEpochs = 2,
        SndData = 256, SndSamples = 8, SndProbes = 8,
        HessianSamples = 128, PowerIterations = 15, TraceProducts = 30, LanczosSteps = 20,
        LargeBatchSubset = 3000, LargeBatch = 256, LargeBatchEpochs = 3,
    };

    public static StudyScale Full { get; } = new()
    {
        LeastSquaresSamples = 5000, LeastSquaresIterations = 20000,
        Subset = 5000, Epochs = 2,
        ReferenceSubset = 0, ReferenceEpochs = 6,
        SndData = 1024, SndSamples = 16, SndProbes = 16,
        HessianSamples = 512, PowerIterations = 30, TraceProducts = 60, LanczosSteps = 40,
        LargeBatchSubset = 12000, LargeBatch = 1024, LargeBatchEpochs = 4,
    };
}
