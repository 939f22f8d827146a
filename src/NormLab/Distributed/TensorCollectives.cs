using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Distributed;

/// <summary>Collectives on tensors: sums across processes (plain and differentiable), broadcast and gather.</summary>
/// <remarks>
/// MPI works on host memory: tensors on other devices are copied to the CPU and back. A tensor's data
/// must fit in 2³¹ − 1 bytes (one span); larger tensors are rejected before any collective starts.
/// </remarks>
public static class TensorCollectives
{
    /// <summary>
    /// Σ over processes of <paramref name="t"/>, differentiable: the backward sums the incoming gradient
    /// over processes too (the adjoint of a sum that every process receives), so autograd through it gives
    /// the gradient of the sum of all processes' losses.
    /// </summary>
    /// <param name="t">The same shape on every process.</param>
    /// <param name="world">The job.</param>
    /// <param name="inFloat64">Reduce in float64 (statistics) rather than in the tensor's own float dtype.</param>
    /// <exception cref="ArgumentException">a tensor too large for one buffer.</exception>
    public static Tensor Sum(Tensor t, Communicator world, bool inFloat64 = true)
    {
        CheckSize(t, inFloat64);
        if (world.Size == 1) return t.clone();
        return AllReduceFunction.Apply(t, world, inFloat64);
    }

    /// <summary>Σ over processes of <paramref name="t"/>, without autograd (a new tensor of t's dtype and device).</summary>
    /// <exception cref="ArgumentException">a tensor too large for one buffer.</exception>
    public static Tensor SumNoGrad(Tensor t, Communicator world, bool inFloat64 = true)
    {
        CheckSize(t, inFloat64);
        return Reduce(t, world, inFloat64);
    }

    /// <summary>Overwrites <paramref name="t"/> on every process with its value on <paramref name="root"/> (in place, no autograd).</summary>
    /// <exception cref="ArgumentException">a tensor too large for one buffer.</exception>
    public static void Broadcast(Tensor t, Communicator world, int root = 0)
    {
        CheckSize(t, inFloat64: false);
        if (world.Size == 1) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var host = t.detach().cpu().contiguous().clone();
        if (host.numel() > 0) world.Broadcast(host.bytes, root);
        t.copy_(host);
    }

    /// <summary>
    /// The concatenation along dim 0 of every process's <paramref name="shard"/>, in rank order, on every
    /// process. Shards may differ in length along dim 0; the other dims must agree.
    /// </summary>
    /// <exception cref="ArgumentException">a shard of rank 0, or too large for one buffer.</exception>
    public static Tensor Gather(Tensor shard, Communicator world)
    {
        if (shard.dim() < 1) throw new ArgumentException($"shard must have a dim 0 to gather along, got shape [{string.Join(", ", shard.shape)}]", nameof(shard));
        if (world.Size == 1) return shard.detach().clone();
        using var scope = NewDisposeScope();
        var lengths = new double[world.Size];
        lengths[world.Rank] = shard.shape[0];
        world.AllReduceSum(lengths);
        long offset = lengths.Take(world.Rank).Sum(l => (long)l), total = (long)lengths.Sum();
        var full = zeros(new[] { total }.Concat(shard.shape.Skip(1)).ToArray(), dtype: shard.dtype);
        full.narrow(0, offset, shard.shape[0]).copy_(shard.detach());
        return Reduce(full, world, inFloat64: false).MoveToOuterDisposeScope();
    }

    private static Tensor Reduce(Tensor t, Communicator world, bool inFloat64)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var type = inFloat64 || t.dtype is not (ScalarType.Float32 or ScalarType.Float64) ? ScalarType.Float64 : t.dtype;
        var host = t.detach().to(type, CPU).contiguous().clone();
        if (world.Size > 1 && host.numel() > 0)
        {
            if (type == ScalarType.Float64) world.AllReduceSum(MemoryMarshal.Cast<byte, double>(host.bytes));
            else world.AllReduceSum(MemoryMarshal.Cast<byte, float>(host.bytes));
        }
        return host.to(t.dtype, t.device).MoveToOuterDisposeScope();
    }

    private static void CheckSize(Tensor t, bool inFloat64)
    {
        long bytes = t.numel() * (inFloat64 ? 8 : Math.Max(t.element_size(), 1));
        if (bytes > int.MaxValue)
            throw new ArgumentException($"a tensor of shape [{string.Join(", ", t.shape)}] is too large for one MPI buffer (at most 2^31 - 1 bytes); split it", nameof(t));
    }

    /// <summary>
    /// The all-reduce as a custom autograd function: forward Σ_p x_p, backward Σ_p g_p. It never throws
    /// in backward (LibTorch aborts the process there): inputs are checked before it runs, and a failed
    /// collective ends the process with a one-line error (<see cref="MpiCommunicator"/>).
    /// </summary>
    private sealed class AllReduceFunction : autograd.SingleTensorFunction<AllReduceFunction>
    {
        public override string Name => "NormLabAllReduce";

        public static Tensor Apply(Tensor t, Communicator world, bool inFloat64) => apply(new Settings(world, inFloat64), t);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var settings = (Settings)vars[0];
            ctx.save_data("settings", settings);
            return Reduce((Tensor)vars[1], settings.World, settings.InFloat64);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            try
            {
                var settings = (Settings)ctx.get_data("settings");
                return new List<Tensor> { null!, Reduce(grad_output, settings.World, settings.InFloat64) };
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"normlab: the backward of the all-reduce failed ({e.GetType().Name}: {e.Message.Split('\n')[0]}); its gradients are NaN");
                return new List<Tensor> { null!, full_like(grad_output, double.NaN) };
            }
        }

        private sealed record Settings(Communicator World, bool InFloat64);
    }
}
