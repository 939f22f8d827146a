using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Data;

/// <summary>
/// A classification data set split into train and test: inputs [N, *FeatureShape] and int64 labels [N]
/// in 0..Classes−1. It owns its tensors (they live outside every dispose scope) and releases them on
/// <see cref="Dispose"/>.
/// </summary>
public sealed class LabeledDataset : IDisposable
{
    /// <summary>Takes ownership of the four tensors.</summary>
    /// <exception cref="ArgumentException">labels that are not int64 [N] matching their inputs, or fewer than 2 classes.</exception>
    public LabeledDataset(Tensor trainX, Tensor trainY, Tensor testX, Tensor testY, int classes)
    {
        Check(trainX, trainY, "train");
        Check(testX, testY, "test");
        if (classes < 2) throw new ArgumentException($"classes ({classes}) must be at least 2", nameof(classes));
        if (!trainX.shape[1..].SequenceEqual(testX.shape[1..]))
            throw new ArgumentException($"train inputs [{string.Join(", ", trainX.shape)}] and test inputs [{string.Join(", ", testX.shape)}] differ in feature shape");
        TrainX = trainX.DetachFromDisposeScope();
        TrainY = trainY.DetachFromDisposeScope();
        TestX = testX.DetachFromDisposeScope();
        TestY = testY.DetachFromDisposeScope();
        Classes = classes;
    }

    /// <summary>Training inputs [N_train, *FeatureShape].</summary>
    public Tensor TrainX { get; }

    /// <summary>Training labels, int64 [N_train].</summary>
    public Tensor TrainY { get; }

    /// <summary>Test inputs [N_test, *FeatureShape].</summary>
    public Tensor TestX { get; }

    /// <summary>Test labels, int64 [N_test].</summary>
    public Tensor TestY { get; }

    /// <summary>The number of classes.</summary>
    public int Classes { get; }

    /// <summary>The shape of one input (the input shape without the batch dim).</summary>
    public long[] FeatureShape => TrainX.shape[1..];

    /// <summary>Mini-batches of the training split, reshuffled on each enumeration when <paramref name="shuffle"/> is given.</summary>
    public IEnumerable<(Tensor X, Tensor Y)> TrainBatches(int batchSize, Generator? shuffle = null, bool dropLast = false) =>
        Batches.Of(TrainX, TrainY, batchSize, shuffle, dropLast);

    /// <summary>Mini-batches of the test split, in order.</summary>
    public IEnumerable<(Tensor X, Tensor Y)> TestBatches(int batchSize) => Batches.Of(TestX, TestY, batchSize);

    /// <summary>
    /// A copy with every input feature standardized by the training split's population statistics:
    /// x'_j = (x_j − μ_j) / √(σ_j² + floor · mean_k σ_k²), the usual input normalization before a network.
    /// The floor keeps features that barely vary in training (Fashion-MNIST's corner pixels) from being
    /// blown up; floor = 0 standardizes exactly. Statistics are float64, biased (1/n); dtypes are kept.
    /// </summary>
    /// <param name="floor">Variance floor relative to the mean feature variance, &gt;= 0 (default 0.1).</param>
    /// <exception cref="ArgumentException">a negative or non-finite floor, or fewer than 2 training samples.</exception>
    public LabeledDataset StandardizeFeatures(double floor = 0.1)
    {
        if (!(double.IsFinite(floor) && floor >= 0)) throw new ArgumentException($"floor ({floor}) must be a finite number >= 0", nameof(floor));
        if (TrainX.shape[0] < 2) throw new ArgumentException($"the training split has {TrainX.shape[0]} sample; standardizing needs at least 2", nameof(TrainX));
        using var scope = NewDisposeScope();
        var train = TrainX.to(ScalarType.Float64);
        var mean = train.mean(new long[] { 0 });
        var variance = train.var(0, unbiased: false);
        var scale = (variance + floor * variance.mean()).rsqrt();
        Tensor Apply(Tensor x) => ((x.to(ScalarType.Float64) - mean) * scale).to(x.dtype);
        return new LabeledDataset(Apply(TrainX), TrainY.clone(), Apply(TestX), TestY.clone(), Classes);
    }

    /// <summary>Releases the tensors.</summary>
    public void Dispose()
    {
        TrainX.Dispose();
        TrainY.Dispose();
        TestX.Dispose();
        TestY.Dispose();
    }

    private static void Check(Tensor x, Tensor y, string split)
    {
        if (x.dim() < 2) throw new ArgumentException($"{split} inputs must be [N, *features], got [{string.Join(", ", x.shape)}]");
        if (y.dtype != ScalarType.Int64 || y.dim() != 1 || y.shape[0] != x.shape[0])
            throw new ArgumentException($"{split} labels must be int64 [{x.shape[0]}], got {y.dtype} [{string.Join(", ", y.shape)}]");
    }
}

/// <summary>Splits (inputs, labels) into mini-batches.</summary>
public static class Batches
{
    /// <summary>
    /// Yields consecutive mini-batches of <paramref name="x"/> and <paramref name="y"/> (rows of dim 0), in
    /// a fresh random order drawn from <paramref name="shuffle"/> on each enumeration when it is given.
    /// Each batch is a new tensor pair created when the enumerator advances: advance it inside a dispose
    /// scope (as <c>NormLab.Models.TrainingLoop</c> does) or dispose the pair.
    /// </summary>
    /// <exception cref="ArgumentException">a batch size below 1 or inputs and labels of different lengths.</exception>
    public static IEnumerable<(Tensor X, Tensor Y)> Of(Tensor x, Tensor y, int batchSize, Generator? shuffle = null, bool dropLast = false)
    {
        if (batchSize < 1) throw new ArgumentException($"batchSize ({batchSize}) must be at least 1", nameof(batchSize));
        if (x.shape[0] != y.shape[0]) throw new ArgumentException($"inputs ({x.shape[0]} rows) and labels ({y.shape[0]} rows) differ in length");
        return Iterate(x, y, batchSize, shuffle, dropLast);
    }

    private static IEnumerable<(Tensor X, Tensor Y)> Iterate(Tensor x, Tensor y, int batchSize, Generator? shuffle, bool dropLast)
    {
        long n = x.shape[0];
        Tensor? order = shuffle is null ? null : randperm(n, generator: shuffle).DetachFromDisposeScope();
        try
        {
            for (long start = 0; start < n; start += batchSize)
            {
                long count = Math.Min(batchSize, n - start);
                if (dropLast && count < batchSize) yield break;
                if (order is null)
                {
                    yield return (x.narrow(0, start, count), y.narrow(0, start, count));
                }
                else
                {
                    var idx = order.narrow(0, start, count);
                    yield return (x.index_select(0, idx), y.index_select(0, idx));
                }
            }
        }
        finally
        {
            order?.Dispose();
        }
    }
}
