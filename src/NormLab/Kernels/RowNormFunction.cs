using NormLab.Kernels.Cpu;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Kernels;

/// <summary>The configuration of one fused row-kernel call, and the statistics it produced.</summary>
internal sealed class RowNormCall
{
    public RowNormCall(RowLayout layout, StatOp op, AffineKind kind, bool batch, double[]? populationMean = null, double[]? populationSpread = null)
    {
        Layout = layout;
        Op = op;
        Kind = kind;
        Batch = batch;
        PopulationMean = populationMean;
        PopulationSpread = populationSpread;
    }

    public RowLayout Layout { get; }
    public StatOp Op { get; }
    public AffineKind Kind { get; }

    /// <summary>Batch statistics (true) or the stored population statistics (false).</summary>
    public bool Batch { get; }

    /// <summary>Stored population means and spreads (eval), indexed by <see cref="RowLayout.PopulationIndex"/>.</summary>
    public double[]? PopulationMean { get; }
    public double[]? PopulationSpread { get; }

    /// <summary>After forward: float64 [3, StatCount] = mean, r, spread.</summary>
    public Tensor? Stats { get; set; }

    /// <summary>Which gradients backward computes (recorded in forward) and the parameter shapes.</summary>
    public bool NeedInput { get; set; }
    public long[]? WeightShape { get; set; }
    public long[]? BiasShape { get; set; }
}

/// <summary>
/// The fused row kernels as a custom autograd function: inputs x (contiguous), γ (or null), β (or
/// null) and a <see cref="RowNormCall"/>; output y. Backward returns dx, dγ, dβ from one sums pass
/// and one apply pass. Everything is validated before <c>apply</c>; backward never throws.
/// </summary>
internal sealed class RowNormFunction : autograd.SingleTensorFunction<RowNormFunction>
{
    public override string Name => "NormLabRowNorm";

    /// <summary>Runs the kernel through autograd.</summary>
    public static Tensor Apply(Tensor x, Tensor? weight, Tensor? bias, RowNormCall call) => apply(x, weight!, bias!, call);

    public override unsafe Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var w = vars[1] as Tensor;
        var b = vars[2] as Tensor;
        var call = (RowNormCall)vars[3];
        var y = empty_like(x);
        var stats = empty(3, call.Layout.StatCount, dtype: ScalarType.Float64);
        if (x.dtype == ScalarType.Float32) Forward<float>(call, x, y, w, b, stats);
        else Forward<double>(call, x, y, w, b, stats);
        call.Stats = stats;
        FusedKernels.Count();
        call.NeedInput = x.requires_grad;
        call.WeightShape = w is { requires_grad: true } ? w.shape : null;
        call.BiasShape = b is { requires_grad: true } ? b.shape : null;
        ctx.save_for_backward(new() { x, w!, stats });
        ctx.save_data("call", call);
        return y;
    }

    private static unsafe void Forward<T>(RowNormCall call, Tensor x, Tensor y, Tensor? w, Tensor? b, Tensor stats) where T : unmanaged
    {
        double* st = RawTensor.Ptr<double>(stats);
        if (call.Batch)
        {
            RowEngine.ForwardBatch(call.Layout, call.Op, call.Kind, RawTensor.Ptr<T>(x), RawTensor.Ptr<T>(y), RawTensor.Ptr<T>(w), RawTensor.Ptr<T>(b), st);
            return;
        }
        fixed (double* pm = call.PopulationMean)
        fixed (double* pv = call.PopulationSpread)
            RowEngine.ForwardStored(call.Layout, call.Op, call.Kind, RawTensor.Ptr<T>(x), RawTensor.Ptr<T>(y), RawTensor.Ptr<T>(w), RawTensor.Ptr<T>(b), pm, pv, st);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output) =>
        BackwardGuard.Run(Name, grad_output, 4, () =>
        {
            using var scope = NewDisposeScope();
            var call = (RowNormCall)ctx.get_data("call");
            var saved = ctx.get_saved_variables();
            var x = saved[0];
            var w = saved[1];
            var stats = saved[2];
            var dy = grad_output.contiguous();
            var result = x.dtype == ScalarType.Float32
                ? Backward<float>(call, x, w, stats, dy)
                : Backward<double>(call, x, w, stats, dy);
            foreach (var t in result) t?.MoveToOuterDisposeScope();
            return result;
        });

    private static unsafe List<Tensor> Backward<T>(RowNormCall call, Tensor x, Tensor? w, Tensor stats, Tensor dy) where T : unmanaged
    {
        var layout = call.Layout;
        var dx = call.NeedInput ? empty_like(x) : null;
        bool perChannel = call.Kind == AffineKind.PerChannel;
        bool elementwise = call.Kind == AffineKind.Elementwise;
        bool needWeight = call.WeightShape is not null, needBias = call.BiasShape is not null;
        using var rowDy = new NativeBuffer(perChannel && needBias ? layout.Rows : 0);
        using var rowDyXhat = new NativeBuffer(perChannel && needWeight ? layout.Rows : 0);
        var grads = new RowEngine.Gradients
        {
            Dx = dx is null ? 0 : (nint)RawTensor.Ptr<T>(dx),
            RowDy = rowDy.Pointer,
            RowDyXhat = rowDyXhat.Pointer,
            ElementDgamma = elementwise && needWeight ? new NativeBuffer?[KernelParallel.Threads] : null,
            ElementDbeta = elementwise && needBias ? new NativeBuffer?[KernelParallel.Threads] : null,
        };
        try
        {
            RowEngine.Backward(layout, call.Op, call.Kind, call.Batch, RawTensor.Ptr<T>(x), RawTensor.Ptr<T>(dy), RawTensor.Ptr<T>(w), RawTensor.Ptr<double>(stats), grads);
            Tensor? dw = null, db = null;
            if (perChannel)
            {
                if (needWeight) dw = ChannelSums(rowDyXhat, layout, x.dtype).reshape(call.WeightShape!);
                if (needBias) db = ChannelSums(rowDy, layout, x.dtype).reshape(call.BiasShape!);
            }
            else if (elementwise)
            {
                if (grads.ElementDgamma is { } g) dw = Reduce(g, layout.S, x.dtype).reshape(call.WeightShape!);
                if (grads.ElementDbeta is { } b) db = Reduce(b, layout.S, x.dtype).reshape(call.BiasShape!);
            }
            return new List<Tensor> { dx!, dw!, db!, null! };
        }
        finally
        {
            foreach (var buffer in (grads.ElementDgamma ?? Array.Empty<NativeBuffer?>()).Concat(grads.ElementDbeta ?? Array.Empty<NativeBuffer?>()))
                buffer?.Dispose();
        }
    }

    /// <summary>Σ over samples of per-row values [A·C] → per-channel [C].</summary>
    private static unsafe Tensor ChannelSums(NativeBuffer rows, RowLayout layout, ScalarType dtype)
    {
        var sums = new double[layout.C];
        for (long a = 0; a < layout.A; a++)
            for (long c = 0; c < layout.C; c++)
                sums[c] += rows.Pointer[a * layout.C + c];
        return tensor(sums).to(dtype);
    }

    /// <summary>Σ over chunks of per-position accumulators → [S].</summary>
    private static unsafe Tensor Reduce(NativeBuffer?[] partials, long length, ScalarType dtype)
    {
        var sums = new double[length];
        foreach (var p in partials)
            if (p is not null)
                for (long i = 0; i < length; i++) sums[i] += p.Pointer[i];
        return tensor(sums).to(dtype);
    }
}
