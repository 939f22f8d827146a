using NormLab.Kernels.Cpu;
using static TorchSharp.torch;

namespace NormLab.Kernels;

/// <summary>A call of the fused column kernel (<see cref="ColumnEngine"/>): per-channel γ and β (either may be null), batch statistics.</summary>
internal sealed class ColumnCall(RowLayout layout, StatOp op) : FusedCall
{
    public override string Name => "positional normalization";

    public override Tensor Forward(Tensor x, Tensor?[] parameters, List<Tensor> saved)
    {
        var y = empty_like(x);
        var stats = empty(3, layout.A * layout.G * layout.S, dtype: ScalarType.Float64);
        if (x.dtype == ScalarType.Float32) Forward<float>(x, y, parameters[0], parameters[1], stats);
        else Forward<double>(x, y, parameters[0], parameters[1], stats);
        saved.Add(stats);
        return y;
    }

    private unsafe void Forward<T>(Tensor x, Tensor y, Tensor? w, Tensor? b, Tensor stats) where T : unmanaged =>
        ColumnEngine.Forward(layout, op, RawTensor.Ptr<T>(x), RawTensor.Ptr<T>(y), RawTensor.Ptr<T>(w), RawTensor.Ptr<T>(b), RawTensor.Ptr<double>(stats));

    public override (Tensor? Dx, Tensor?[] Dparameters) Backward(Tensor x, Tensor?[] parameters, IReadOnlyList<Tensor> saved, Tensor dy) =>
        x.dtype == ScalarType.Float32 ? Backward<float>(x, parameters[0], saved[0], dy) : Backward<double>(x, parameters[0], saved[0], dy);

    private unsafe (Tensor?, Tensor?[]) Backward<T>(Tensor x, Tensor? w, Tensor stats, Tensor dy) where T : unmanaged
    {
        var dx = NeedInput ? empty_like(x) : null;
        using var dgamma = GradShapes[0] is null ? null : new WorkerSums(layout.C, KernelParallel.Threads * 4);
        using var dbeta = GradShapes[1] is null ? null : new WorkerSums(layout.C, KernelParallel.Threads * 4);
        ColumnEngine.Backward(layout, op, RawTensor.Ptr<T>(x), RawTensor.Ptr<T>(dy), RawTensor.Ptr<T>(dx), RawTensor.Ptr<T>(w), RawTensor.Ptr<double>(stats), dgamma, dbeta);
        return (dx, new[] { Gradient(dgamma, GradShapes[0], x.dtype), Gradient(dbeta, GradShapes[1], x.dtype) });
    }

    private static Tensor? Gradient(WorkerSums? sums, long[]? shape, ScalarType dtype) =>
        sums is null ? null : FusedKernels.Gradient(sums, shape!, dtype);
}
