using NormLab.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Analysis;

/// <summary>The SND estimate: the mean over probes and the per-probe values.</summary>
public sealed record SndEstimate(double Mean, double[] PerProbe, long BatchSize, int Samples);

/// <summary>
/// Stochastic normalization disturbance (survey §5.2): how much a sample's normalized output depends on
/// the rest of its mini-batch. Δ(x) = (1/s)·Σᵢ ‖G(X_Bᵢ; x) − (1/s)·Σⱼ G(X_Bⱼ; x)‖ over s random
/// mini-batches X_Bᵢ of size B that contain x.
/// </summary>
/// <remarks>
/// The normalizer G runs in training mode (batch statistics), with whatever recovery it was built with
/// (build it with affine=false to measure the normalization alone). The probe is always the first
/// sample of its batches, so batch-independent normalizers (IN, LN, GN) give exactly 0. Running
/// statistics are restored afterwards.
/// </remarks>
public static class Snd
{
    /// <summary>Estimates SND for <paramref name="probes"/> data points of <paramref name="data"/> [n, *].</summary>
    /// <exception cref="ArgumentException">an empty data set, a batch size outside 1..n, or fewer than 1 sample or probe.</exception>
    public static SndEstimate Estimate(nn.Module<Tensor, Tensor> normalizer, Tensor data, long batchSize, int samples = 8, int probes = 16, long seed = 0)
    {
        if (data.dim() < 1 || data.shape[0] == 0)
            throw new ArgumentException("the data set is empty", nameof(data));
        long n = data.shape[0];
        if (batchSize < 1 || batchSize > n)
            throw new ArgumentException($"batch size ({batchSize}) must be between 1 and the data set size ({n})", nameof(batchSize));
        if (samples < 1) throw new ArgumentException($"samples ({samples}) must be at least 1", nameof(samples));
        if (probes < 1) throw new ArgumentException($"probes ({probes}) must be at least 1", nameof(probes));
        var random = new Random((int)(seed ^ (seed >> 32)));
        var saved = normalizer.buffers().Select(b => (b, b.detach().clone())).ToList();
        bool wasTraining = normalizer.training;
        normalizer.train();
        try
        {
            using var _ = no_grad();
            var perProbe = new double[Math.Min(probes, (int)Math.Min(n, int.MaxValue))];
            var probeIndices = Shuffle(Enumerable.Range(0, (int)n).ToArray(), random).Take(perProbe.Length).ToArray();
            for (int p = 0; p < perProbe.Length; p++)
            {
                using var scope = NewDisposeScope();
                int probe = probeIndices[p];
                var others = Enumerable.Range(0, (int)n).Where(i => i != probe).ToArray();
                var outputs = new List<Tensor>();
                for (int s = 0; s < samples; s++)
                {
                    var rest = Shuffle(others, random).Take((int)batchSize - 1);
                    var index = tensor(rest.Prepend(probe).Select(i => (long)i).ToArray());
                    outputs.Add(normalizer.call(data.index_select(0, index))[0].flatten());
                }
                var g = stack(outputs);
                // mean = G₀ + mean_j (G_j − G₀): identical outputs give exactly G₀, so batch-independent normalizers get Δ = 0 exactly.
                var mean = g[0] + (g - g[0]).mean(new long[] { 0 }, keepdim: true);
                perProbe[p] = (g - mean).square().sum(new long[] { 1 }).sqrt().mean().ToDouble();
            }
            return new SndEstimate(perProbe.Average(), perProbe, batchSize, samples);
        }
        finally
        {
            using (no_grad())
                foreach (var (b, copy) in saved) b.copy_(copy);
            normalizer.train(wasTraining);
        }
    }

    private static int[] Shuffle(int[] items, Random random)
    {
        var copy = items.ToArray();
        random.Shuffle(copy);
        return copy;
    }
}
