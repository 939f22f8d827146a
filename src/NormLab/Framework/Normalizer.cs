using static TorchSharp.torch;

namespace NormLab.Framework;

/// <summary>
/// An activation normalizer composed from the survey's three parts: an area (NAP), an operation (NOP)
/// and a recovery (NRR), plus an optional <see cref="RunningEstimate"/> for inference.
/// </summary>
/// <remarks>
/// Forward: y = recovery(operation(view_area(x))). In training mode, or when no running estimate is
/// kept, the operation uses batch statistics (and updates the running estimate in training); in eval
/// mode with a running estimate it uses the stored population statistics (PyTorch's rule).
/// Named layers (BatchNorm2d, GroupNorm, ...) are presets of this class. Faster kernels with identical
/// semantics are chosen automatically (see <see cref="KernelPolicy"/>).
/// </remarks>
public class Normalizer : NormModule
{
    private readonly NormKernel[] _kernels;

    /// <summary>Composes a normalizer.</summary>
    /// <param name="name">Module name.</param>
    /// <param name="area">Where statistics come from.</param>
    /// <param name="operation">What is done with them.</param>
    /// <param name="recovery">How representation is restored.</param>
    /// <param name="trackRunningStats">Keep a running estimate for eval mode.</param>
    /// <param name="momentum">Running-average momentum in [0, 1], or null for a cumulative average. Default 0.1.</param>
    /// <param name="inputRanks">Accepted input ranks, or null for any rank the area accepts.</param>
    /// <exception cref="ArgumentException">the operation does not support the area, or an invalid momentum.</exception>
    public Normalizer(string name, NormArea area, NormOperation operation, Recovery recovery,
        bool trackRunningStats = false, double? momentum = 0.1, int[]? inputRanks = null)
        : base(name)
    {
        operation.CheckArea(area);
        Area = area;
        Operation = operation;
        Recovery = recovery;
        InputRanks = inputRanks;
        operation.Attach(State);
        recovery.Attach(State);
        if (trackRunningStats)
            Running = new RunningEstimate(State, operation.RunningStatistics(area), momentum);
        _kernels = KernelFinder(this);
    }

    /// <summary>
    /// Finds the faster kernels for a composition. The kernel catalog installs itself here when the
    /// assembly loads, so the framework does not depend on the kernels.
    /// </summary>
    internal static Func<Normalizer, NormKernel[]> KernelFinder { get; set; } = _ => Array.Empty<NormKernel>();

    /// <summary>The area (NAP).</summary>
    public NormArea Area { get; }

    /// <summary>The operation (NOP).</summary>
    public NormOperation Operation { get; }

    /// <summary>The recovery (NRR).</summary>
    public Recovery Recovery { get; }

    /// <summary>The running estimate, or null when population statistics are not tracked.</summary>
    public RunningEstimate? Running { get; }

    /// <summary>Accepted input ranks, or null for any.</summary>
    public IReadOnlyList<int>? InputRanks { get; }

    /// <inheritdoc />
    /// <remarks>
    /// An input without elements gives an empty output and leaves the running statistics alone.
    /// Float16/bfloat16 inputs are normalized in float32 (statistics included) and the output is cast
    /// back; see <see cref="Precision"/> for the dtype rules.
    /// </remarks>
    public override Tensor forward(Tensor x)
    {
        Validate(x);
        if (x.numel() == 0) return x.clone();
        using var scope = NewDisposeScope();
        var work = Precision.ComputeType(x, this);
        var y = Normalize(work == x.dtype ? x : x.to(work));
        return (y.dtype == x.dtype ? y : y.to(x.dtype)).MoveToOuterDisposeScope();
    }

    private Tensor Normalize(Tensor x)
    {
        var pass = ChoosePass();
        var v = Area.View(x);
        if (!pass.UseRunning && Operation.NeedsSpread && Area.RequiresMultipleValues && Operation.ValuesPerStatistic(Area, v) < 2)
            throw new ArgumentException(
                $"input of shape {Checks.Shape(x.shape)} gives 1 value per statistic of area '{Area.Name}'; batch statistics need more than 1 value (use a larger batch or spatial size, or eval mode with running statistics)", "input");
        if (!Area.IsDistributed)
            foreach (var kernel in _kernels)
                if (kernel.Allowed && kernel.TryForward(this, x, pass) is { } fast)
                    return fast;
        var y = Operation.Normalize(v, Area, pass).reshape(x.shape);
        return Recovery.Apply(y, x);
    }

    /// <summary>
    /// Where this forward takes its statistics from: the batch in training mode (updating the running
    /// estimate) or when no estimate is kept, the stored estimate in eval mode (PyTorch's rule).
    /// </summary>
    protected virtual NormPass ChoosePass() =>
        training || Running is null ? NormPass.Batch(training ? Running : null) : NormPass.Stored(Running);

    /// <summary>Checks the input's rank and the area's shape requirements.</summary>
    /// <exception cref="ArgumentException">a rank or size the layer does not accept.</exception>
    protected virtual void Validate(Tensor x)
    {
        if (InputRanks is { } ranks && !ranks.Contains((int)x.dim()))
            throw new ArgumentException(
                $"input has {x.dim()} dims (shape {Checks.Shape(x.shape)}); {GetName()} expects {string.Join(" or ", ranks)} dims", "input");
        Area.Validate(x);
        Operation.Validate(x);
        Precision.Validate(x, this, GetName());
    }
}
