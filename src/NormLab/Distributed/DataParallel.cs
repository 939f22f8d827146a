using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Distributed;

/// <summary>
/// Data-parallel training of one model replicated on every process of a job: identical initial state
/// (broadcast from rank 0), a contiguous shard of each global batch per process, and gradients summed
/// across processes in buckets before every optimizer step, so every replica takes the same step.
/// </summary>
/// <remarks>
/// Each process back-propagates its local mean loss weighted by n_local/N (N the global batch), so the
/// summed gradient is the gradient of the global mean loss, and P processes with local batch b follow a
/// single process with batch P·b (exactly, when the normalizers are synchronized or batch-independent).
/// Any optimizer works unchanged, LARS and LAMB included: it sees the global gradient. Gradients are
/// flattened into buckets of at most <see cref="BucketBytes"/> bytes of one dtype (one all-reduce each, in
/// the gradient's dtype), after the backward pass; overlapping them with the backward is not done.
/// Every process must hold the same parameters in the same order, with the same parameters left
/// without gradient. Buffers (running statistics) are not reduced; <see cref="BroadcastBuffers"/> copies
/// rank 0's, as PyTorch's DistributedDataParallel does.
/// </remarks>
public sealed class DataParallel
{
    private readonly nn.Module _model;

    /// <summary>Wraps <paramref name="model"/> for data-parallel training over <paramref name="world"/>.</summary>
    /// <param name="model">The replica on this process.</param>
    /// <param name="world">The job.</param>
    /// <param name="bucketBytes">Largest gradient bucket in bytes, ≥ 1. Default 25 MiB (PyTorch's default).</param>
    /// <exception cref="ArgumentException">a bucket size below 1.</exception>
    public DataParallel(nn.Module model, Communicator world, long bucketBytes = 25L << 20)
    {
        if (bucketBytes < 1) throw new ArgumentException($"bucketBytes ({bucketBytes}) must be at least 1", nameof(bucketBytes));
        _model = model;
        World = world;
        BucketBytes = bucketBytes;
    }

    /// <summary>The job.</summary>
    public Communicator World { get; }

    /// <summary>The largest gradient bucket, in bytes.</summary>
    public long BucketBytes { get; }

    /// <summary>How many all-reduce calls the last <see cref="AllReduceGradients"/> made.</summary>
    public int LastBuckets { get; private set; }

    /// <summary>Copies rank 0's parameters and buffers to every process.</summary>
    public void BroadcastState()
    {
        foreach (var p in _model.parameters()) TensorCollectives.Broadcast(p, World);
        BroadcastBuffers();
    }

    /// <summary>Copies rank 0's buffers (running statistics) to every process.</summary>
    public void BroadcastBuffers()
    {
        foreach (var b in _model.buffers()) TensorCollectives.Broadcast(b, World);
    }

    /// <summary>
    /// This process's contiguous shard of a global batch (<see cref="Shards"/>), and its weight
    /// n_local/N in the global mean; null when the global batch has fewer samples than processes
    /// (every process then skips it, so all keep calling the same collectives).
    /// </summary>
    public (Tensor X, Tensor Y, double Weight)? Shard(Tensor x, Tensor y)
    {
        long n = x.shape[0];
        if (n < World.Size) return null;
        var (offset, length) = Shards.Of(n, World);
        return (x.narrow(0, offset, length), y.narrow(0, offset, length), (double)length / n);
    }

    /// <summary>Replaces every parameter gradient by its sum over the processes, in buckets.</summary>
    /// <exception cref="ArgumentException">a gradient larger than one MPI buffer.</exception>
    public void AllReduceGradients()
    {
        LastBuckets = 0;
        if (World.Size == 1) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var bucket = new List<Tensor>();
        long bytes = 0;
        foreach (var p in _model.parameters())
        {
            if (p.grad is not { } g) continue;
            long size = g.numel() * g.element_size();
            if (bucket.Count > 0 && (bytes + size > BucketBytes || bucket[0].dtype != g.dtype))
            {
                Flush(bucket);
                bytes = 0;
            }
            bucket.Add(g);
            bytes += size;
        }
        Flush(bucket);
    }

    /// <summary>
    /// Whether every process holds bit-identical parameters and buffers (a 64-bit hash of their bytes
    /// compared with rank 0's); the same answer on every process.
    /// </summary>
    public bool ReplicasAgree()
    {
        ulong hash = 14695981039346656037UL;
        using (var scope = NewDisposeScope())
            foreach (var t in _model.parameters().Concat(_model.buffers()))
                foreach (byte b in t.detach().cpu().contiguous().bytes)
                    hash = (hash ^ b) * 1099511628211UL;
        Span<ulong> root = stackalloc ulong[] { hash };
        World.Broadcast(root);
        return World.Sum(root[0] == hash ? 0 : 1) == 0;
    }

    private void Flush(List<Tensor> bucket)
    {
        if (bucket.Count == 0) return;
        var flat = cat(bucket.Select(g => g.reshape(-1)).ToArray());
        var summed = TensorCollectives.SumNoGrad(flat, World, inFloat64: false);
        long offset = 0;
        foreach (var g in bucket)
        {
            g.copy_(summed.narrow(0, offset, g.numel()).view_as(g));
            offset += g.numel();
        }
        LastBuckets++;
        bucket.Clear();
    }
}
