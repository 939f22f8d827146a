using System.Runtime.CompilerServices;
using NormLab.Kernels.Cpu;
using static TorchSharp.torch;

namespace NormLab.Kernels;

/// <summary>
/// A call of the fused row kernel (<see cref="RowEngine"/>): parameters γ and β (either may be null).
/// Saves float64 statistics [3, StatCount] = mean, r, spread; <see cref="Stats"/> exposes them for the
/// running-estimate update.
/// </summary>
internal sealed class RowCall : FusedCall
{
    public RowCall(RowLayout layout, StatOp op, AffineKind kind, bool batch, double[]? populationMean = null, double[]? populationSpread = null)
    {
        Layout = layout;
        Op = op;
        Kind = kind;
        Batch = batch;
        PopulationMean = populationMean;
        PopulationSpread = populationSpread;
    }

    public override string Name => "row normalization";

    public RowLayout Layout { get; }
    public StatOp Op { get; }
    public AffineKind Kind { get; }

    /// <summary>Batch statistics (true) or the stored population statistics (false).</summary>
    public bool Batch { get; }

    /// <summary>Stored population means and spreads (eval), indexed by <see cref="RowLayout.PopulationIndex"/>.</summary>
    public double[]? PopulationMean { get; }
    public double[]? PopulationSpread { get; }

    /// <summary>After forward: float64 [3, StatCount] = mean, r, spread.</summary>
    public Tensor? Stats { get; private set; }

    public override Tensor Forward(Tensor x, Tensor?[] parameters, List<Tensor> saved)
    {
        var y = empty_like(x);
        Stats = empty(3, Layout.StatCount, dtype: ScalarType.Float64);
        if (x.dtype == ScalarType.Float32) Forward<float>(x, y, parameters[0], parameters[1], Stats);
        else Forward<double>(x, y, parameters[0], parameters[1], Stats);
        saved.Add(Stats);
        return y;
    }

    private unsafe void Forward<T>(Tensor x, Tensor y, Tensor? w, Tensor? b, Tensor stats) where T : unmanaged
    {
        double* st = RawTensor.Ptr<double>(stats);
        if (Batch)
        {
            RowEngine.ForwardBatch(Layout, Op, Kind, RawTensor.Ptr<T>(x), RawTensor.Ptr<T>(y), RawTensor.Ptr<T>(w), RawTensor.Ptr<T>(b), st);
            return;
        }
        fixed (double* pm = PopulationMean)
        fixed (double* pv = PopulationSpread)
            RowEngine.ForwardStored(Layout, Op, Kind, RawTensor.Ptr<T>(x), RawTensor.Ptr<T>(y), RawTensor.Ptr<T>(w), RawTensor.Ptr<T>(b), pm, pv, st);
    }

    public override (Tensor? Dx, Tensor?[] Dparameters) Backward(Tensor x, Tensor?[] parameters, IReadOnlyList<Tensor> saved, Tensor dy) =>
        x.dtype == ScalarType.Float32 ? Backward<float>(x, parameters[0], saved[0], dy) : Backward<double>(x, parameters[0], saved[0], dy);

    private unsafe (Tensor?, Tensor?[]) Backward<T>(Tensor x, Tensor? w, Tensor stats, Tensor dy) where T : unmanaged
    {
        var dx = NeedInput ? empty_like(x) : null;
        var weightShape = GradShapes[0];
        var biasShape = GradShapes[1];
        bool perChannel = Kind == AffineKind.PerChannel;
        bool elementwise = Kind == AffineKind.Elementwise;
        using var rowDy = new NativeBuffer(perChannel && biasShape is not null ? Layout.Rows : 0);
        using var rowDyXhat = new NativeBuffer(perChannel && weightShape is not null ? Layout.Rows : 0);
        using var elementDgamma = elementwise && weightShape is not null ? new WorkerSums(Layout.S, KernelParallel.Threads) : null;
        using var elementDbeta = elementwise && biasShape is not null ? new WorkerSums(Layout.S, KernelParallel.Threads) : null;
        var grads = new RowEngine.Gradients
        {
            Dx = dx is null ? 0 : (nint)RawTensor.Ptr<T>(dx),
            RowDy = rowDy.Pointer,
            RowDyXhat = rowDyXhat.Pointer,
            ElementDgamma = elementDgamma,
            ElementDbeta = elementDbeta,
        };
        RowEngine.Backward(Layout, Op, Kind, Batch, RawTensor.Ptr<T>(x), RawTensor.Ptr<T>(dy), RawTensor.Ptr<T>(w), RawTensor.Ptr<double>(stats), grads);
        Tensor? dw = null, db = null;
        if (perChannel)
        {
            if (weightShape is not null) dw = FusedKernels.Gradient(ChannelSums(rowDyXhat), weightShape, x.dtype);
            if (biasShape is not null) db = FusedKernels.Gradient(ChannelSums(rowDy), biasShape, x.dtype);
        }
        else
        {
            if (elementDgamma is not null) dw = FusedKernels.Gradient(elementDgamma, weightShape!, x.dtype);
            if (elementDbeta is not null) db = FusedKernels.Gradient(elementDbeta, biasShape!, x.dtype);
        }
        return (dx, new[] { dw, db });
    }

    /// <summary>Per-row values [A·C] summed over the samples: per channel [C].</summary>
    private unsafe double[] ChannelSums(NativeBuffer rows)
    {
        var sums = new double[Layout.C];
        for (long a = 0; a < Layout.A; a++)
            for (long c = 0; c < Layout.C; c++)
                sums[c] += rows.Pointer[a * Layout.C + c];
        return sums;
    }
}
