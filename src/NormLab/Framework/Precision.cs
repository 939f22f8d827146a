using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Framework;

/// <summary>
/// The dtype rules every normalizer follows: inputs must be floating point; float32 and float64 inputs
/// must match the layer's own dtype (no silent promotion); float16 and bfloat16 inputs are computed in
/// float32 (or in the layer's float64), so statistics accumulate in at least float32, and the output is
/// cast back to the input's dtype.
/// </summary>
internal static class Precision
{
    /// <summary>The dtype of the module's own floating parameters and buffers, or null when it has none.</summary>
    public static ScalarType? LayerType(nn.Module module) =>
        module.parameters().Select(p => p.dtype).Concat(module.buffers().Select(b => b.dtype))
            .Where(IsFloating).Select(t => (ScalarType?)t).FirstOrDefault();

    /// <summary>Checks the input's dtype against the layer's.</summary>
    /// <exception cref="ArgumentException">an integer or complex input, or a float32/float64 input that differs from the layer.</exception>
    public static void Validate(Tensor x, nn.Module module, string layer)
    {
        if (!IsFloating(x.dtype))
            throw new ArgumentException($"input dtype {x.dtype} is not supported; {layer} takes Float16, BFloat16, Float32 or Float64 inputs", "input");
        if (!IsHalf(x.dtype) && LayerType(module) is { } own && !IsHalf(own) && own != x.dtype)
            throw new ArgumentException($"input dtype {x.dtype} differs from the layer's {own} ({layer}); convert the input or the layer with .to(...)", "input");
    }

    /// <summary>The dtype to compute in for an input: float32 (or the layer's float64) for half-precision inputs, else the input's.</summary>
    public static ScalarType ComputeType(Tensor x, nn.Module module) =>
        IsHalf(x.dtype) ? LayerType(module) == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32 : x.dtype;

    public static bool IsHalf(ScalarType t) => t is ScalarType.Float16 or ScalarType.BFloat16;

    private static bool IsFloating(ScalarType t) => t is ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64;
}
