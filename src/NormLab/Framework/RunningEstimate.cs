using static TorchSharp.torch;

namespace NormLab.Framework;

/// <summary>How a running statistic starts.</summary>
public enum StatisticInit
{
    /// <summary>All zeros (means).</summary>
    Zeros,
    /// <summary>All ones (variances, mean squares).</summary>
    Ones,
    /// <summary>An identity matrix per leading index (whitening matrices, covariances).</summary>
    Identity,
}

/// <summary>A population statistic an operation tracks: its name (buffer <c>running_{Name}</c>), shape and initial value.</summary>
public sealed record RunningStatistic(string Name, long[] Shape, StatisticInit Init);

/// <summary>
/// Population statistics for inference, tracked during training as buffers of the owning module:
/// <c>running_{name}</c> for each statistic, and <c>num_batches_tracked</c>.
/// </summary>
/// <remarks>
/// PyTorch's convention: running = (1 − momentum)·running + momentum·batch. With momentum = null the
/// estimate is the cumulative average, momentum_t = 1 / num_batches_tracked (PyTorch's BatchNorm).
/// What each statistic holds (for example the unbiased variance for BN's running_var) is the
/// operation's choice and is documented there.
/// </remarks>
public sealed class RunningEstimate
{
    private readonly ModuleState _state;

    /// <summary>Registers the buffers on the owner.</summary>
    /// <exception cref="ArgumentOutOfRangeException">momentum outside [0, 1].</exception>
    public RunningEstimate(ModuleState state, IEnumerable<RunningStatistic> statistics, double? momentum)
    {
        if (momentum is { } m && (m < 0 || m > 1 || double.IsNaN(m)))
            throw new ArgumentException($"momentum ({m}) must be in [0, 1], or null for a cumulative average", nameof(momentum));
        _state = state;
        Momentum = momentum;
        Statistics = statistics.ToArray();
        foreach (var s in Statistics)
            state.AddBuffer(BufferName(s.Name), Initial(s));
        state.AddBuffer("num_batches_tracked", tensor(0L));
    }

    /// <summary>The momentum, or null for a cumulative average.</summary>
    public double? Momentum { get; }

    /// <summary>The statistics tracked.</summary>
    public IReadOnlyList<RunningStatistic> Statistics { get; }

    /// <summary>The current population value of a statistic.</summary>
    public Tensor this[string name] => _state.Buffer(BufferName(name));

    /// <summary>The number of training batches seen.</summary>
    public Tensor BatchesTracked => _state.Buffer("num_batches_tracked");

    /// <summary>
    /// Counts a training batch and returns the weight of that batch in the average: the momentum, or
    /// 1 / num_batches_tracked when the momentum is null.
    /// </summary>
    public double CountBatch()
    {
        using var _ = no_grad();
        var tracked = BatchesTracked;
        tracked.add_(1);
        return Momentum ?? 1.0 / tracked.item<long>();
    }

    /// <summary>Counts a batch and blends its statistics (in population form) into the running values.</summary>
    public void Update(params (string Name, Tensor Batch)[] batch)
    {
        double factor = CountBatch();
        using var _ = no_grad();
        foreach (var (name, value) in batch)
        {
            var running = this[name];
            running.mul_(1 - factor).add_(value.detach().to(running.dtype), alpha: factor);
        }
    }

    /// <summary>Resets every statistic to its initial value and the batch count to 0.</summary>
    public void Reset()
    {
        using var _ = no_grad();
        foreach (var s in Statistics)
            this[s.Name].copy_(Initial(s));
        BatchesTracked.zero_();
    }

    private static string BufferName(string statistic) => "running_" + statistic;

    private static Tensor Initial(RunningStatistic s) => s.Init switch
    {
        StatisticInit.Zeros => zeros(s.Shape),
        StatisticInit.Ones => ones(s.Shape),
        StatisticInit.Identity => eye(s.Shape[^1]).expand(s.Shape).contiguous(),
        _ => throw new ArgumentOutOfRangeException(nameof(s)),
    };
}
