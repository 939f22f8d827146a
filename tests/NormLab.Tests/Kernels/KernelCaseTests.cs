using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Kernels;

/// <summary>The named cases of one fused-kernel test class: the module each builds and the input shape it runs on.</summary>
public interface IKernelCases
{
    static abstract IReadOnlyDictionary<string, (Func<nn.Module<Tensor, Tensor>> Make, long[] Shape)> All { get; }

    /// <summary>The cases float32 cannot compare (none unless a class says so).</summary>
    static virtual IEnumerable<string> NotInFloat32 => [];
}

/// <summary>
/// The theories every fused-kernel test class runs over its cases (<see cref="IKernelCases"/>): fused against
/// composite in float64 and in float32, through <see cref="KernelHarness.Compare"/>.
/// </summary>
public abstract class KernelCaseTests<TCases> where TCases : IKernelCases
{
    protected static IReadOnlyDictionary<string, (Func<nn.Module<Tensor, Tensor>> Make, long[] Shape)> Cases => TCases.All;

    public static TheoryData<string> Names => new(TCases.All.Keys);

    public static TheoryData<string> Float32Names => new(TCases.All.Keys.Except(TCases.NotInFloat32));

    [Theory]
    [MemberData(nameof(Names))]
    public void Fused_matches_composite_in_float64(string name) =>
        KernelHarness.Compare(Cases[name].Make, Cases[name].Shape, ScalarType.Float64);

    [Theory]
    [MemberData(nameof(Float32Names))]
    public void Fused_matches_composite_in_float32(string name) =>
        KernelHarness.Compare(Cases[name].Make, Cases[name].Shape, ScalarType.Float32);
}
