using static TorchSharp.torch;

namespace NormLab.Tests.Support;

/// <summary>Seeded float64 tensors from a private generator (torch.manual_seed is process-wide).</summary>
public sealed class Rand(long seed)
{
    private readonly Generator _gen = new((ulong)seed);

    /// <summary>Standard normal values, float64.</summary>
    public Tensor Normal(params long[] shape) => randn(shape, ScalarType.Float64, generator: _gen);

    /// <summary>Uniform values in [lo, hi), float64.</summary>
    public Tensor Uniform(double lo, double hi, params long[] shape) => rand(shape, ScalarType.Float64, generator: _gen) * (hi - lo) + lo;

    /// <summary>Normal values with a per-channel scale and offset, so channels differ (dim 1).</summary>
    public Tensor Features(params long[] shape)
    {
        var x = Normal(shape);
        var per = new long[shape.Length];
        Array.Fill(per, 1L);
        per[1] = shape[1];
        return x * Uniform(0.5, 3, per) + Uniform(-2, 2, per);
    }
}
