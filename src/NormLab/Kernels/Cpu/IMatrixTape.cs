namespace NormLab.Kernels.Cpu;

/// <summary>
/// A whitening matrix function W = f(Σ) run as float64 loops over P problems of d × d, keeping what its
/// reverse pass needs, so the fused kernel's backward gets dL/dΣ without a LibTorch graph.
/// </summary>
internal interface IMatrixTape
{
    /// <summary>W per problem, float64 [P·d·d].</summary>
    double[] Matrix { get; }

    /// <summary>dL/dΣ, float64 [P·d·d], from dL/dW of the same shape.</summary>
    double[] PullBack(double[] dW);
}
