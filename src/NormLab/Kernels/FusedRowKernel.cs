using NormLab.Areas;
using NormLab.Framework;
using NormLab.Kernels.Cpu;
using NormLab.Operations;
using NormLab.Recoveries;
using static TorchSharp.torch;

namespace NormLab.Kernels;

/// <summary>
/// The fused CPU kernel for every reduction area that reduces the spatial axis (BN, IN, GN, BGN, LN and
/// their hand-composed relatives) with standardization, RMS scaling or centering, and a per-channel
/// (or, on layer areas, elementwise) γ/β recovery. Same semantics as the composite, running estimate
/// included; other devices, dtypes and shapes fall through to the next kernel.
/// </summary>
internal sealed class FusedRowKernel : NormKernel
{
    /// <summary>Inputs whose rows are shorter than this, with more than <see cref="ShortRowLimit"/> elements, go to the next kernel: per-row overhead would dominate.</summary>
    private const long ShortRow = 16;
    private const long ShortRowLimit = 1 << 16;

    private readonly Func<ScalarType, StatOp> _op;
    private readonly AffineKind _kind;

    private FusedRowKernel(Func<ScalarType, StatOp> op, AffineKind kind)
    {
        _op = op;
        _kind = kind;
    }

    public override bool IsNative => false;

    /// <summary>The kernel for a layer's composition, or null when it has none.</summary>
    public static FusedRowKernel? Match(Normalizer layer)
    {
        var op = OpFor(layer.Operation);
        if (op is null) return null;
        var kind = FusedKernels.AffineKindOf(layer.Recovery);
        return (layer.Area, kind) switch
        {
            (_, null) => null,
            (LayerArea, AffineKind.None or AffineKind.Elementwise) => new FusedRowKernel(op, kind.Value),
            (LayerArea, _) => null,
            (ReductionArea r, AffineKind.None or AffineKind.PerChannel) when r.Reduce.HasFlag(ViewAxes.Space) => new FusedRowKernel(op, kind.Value),
            _ => null,
        };
    }

    /// <summary>The statistic operation behind a normalization operation, by dtype, or null when it is not a row reduction.</summary>
    internal static Func<ScalarType, StatOp>? OpFor(NormOperation operation) => operation switch
    {
        Standardization { SpreadArea: null, Form: SpreadForm.Centered } s => _ => new StandardizeOp(s.Eps, s.UnbiasedVariance),
        Scaling s => dtype => new ScaleOp(s.Offset ?? finfo(dtype).eps, s.Alpha, s.Beta),
        Centering => _ => new CenterOp(),
        _ => null,
    };

    public override Tensor? TryForward(Normalizer layer, Tensor x, NormPass pass)
    {
        if (!FusedKernels.Supports(x)) return null;
        var layout = Layout(layer.Area, x);
        if (layout.S < ShortRow && x.numel() > ShortRowLimit) return null;
        var (w, b) = FusedKernels.Affine(layer.Recovery);
        long paramCount = _kind == AffineKind.Elementwise ? layout.S : layout.C;
        if (!RawTensor.Matches(w, x, paramCount) || !RawTensor.Matches(b, x, paramCount)) return null;
        var op = _op(x.dtype);
        RowCall call;
        if (pass.UseRunning)
        {
            var running = pass.Running!;
            var (meanName, spreadName) = op.RunningNames;
            call = new RowCall(layout, op, _kind, batch: false,
                meanName is null ? null : FusedKernels.Values(running[meanName]),
                spreadName is null ? null : FusedKernels.Values(running[spreadName])) { Composite = FusedKernels.Composite(layer, pass) };
        }
        else
            call = new RowCall(layout, op, _kind, batch: true) { Composite = FusedKernels.Composite(layer, pass) };
        var y = FusedFunction.Apply(call, x.contiguous(), w, b);
        if (!pass.UseRunning && pass.Running is { } track) UpdateRunning(track, call, op);
        return y;
    }

    /// <summary>The row layout of a contiguous input for the area.</summary>
    private static RowLayout Layout(NormArea area, Tensor x)
    {
        bool stream = StreamingStores.For(x);
        if (area is LayerArea layer)
        {
            long d = layer.NormalizedShape.Aggregate(1L, (p, s) => p * s);
            return new RowLayout(x.numel() / d, 1, 1, d, reduceA: false, reduceCg: true) { StreamOutput = stream };
        }
        var r = (ReductionArea)area;
        long n = x.shape[0];
        return new RowLayout(n, r.Groups, r.GroupSize, x.numel() / (n * r.Channels), r.Reduce.HasFlag(ViewAxes.Batch), r.Reduce.HasFlag(ViewAxes.Channel))
            { StreamOutput = stream };
    }

    /// <summary>Blends the batch statistics into the running estimate exactly as the composite does (population form: batch means over A when A is not reduced).</summary>
    private static unsafe void UpdateRunning(RunningEstimate running, RowCall call, StatOp op)
    {
        var layout = call.Layout;
        long population = layout.Population, count = layout.StatCount, samples = count / population;
        double* stats = RawTensor.Ptr<double>(call.Stats!);
        var (meanName, spreadName) = op.RunningNames;
        // Population form: statistic row `row` of the [3, count] stats averaged over the samples (one each when A is reduced).
        double[] Average(long row, double factor)
        {
            var values = new double[population];
            for (long k = 0; k < count; k++) values[k % population] += stats[row * count + k];
            for (long q = 0; q < population; q++) values[q] *= factor / samples;
            return values;
        }
        var updates = new List<(string, double[])>();
        if (meanName is not null) updates.Add((meanName, Average(0, 1.0)));
        if (spreadName is not null) updates.Add((spreadName, Average(2, op.PopulationSpreadFactor(layout.Count))));
        running.Update(updates.ToArray());
    }
}
