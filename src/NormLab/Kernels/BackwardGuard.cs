using static TorchSharp.torch;

namespace NormLab.Kernels;

/// <summary>
/// Keeps exceptions out of custom autograd backward functions: LibTorch aborts the process when
/// managed code throws inside one. Inputs are validated in forward, so a failure here is a bug or a
/// saved tensor modified in place after the forward; the gradients become NaN (so training visibly
/// fails) and the cause is written once to stderr.
/// </summary>
internal static class BackwardGuard
{
    private static int _reported;

    /// <summary>
    /// Runs <paramref name="backward"/>; on any exception returns NaN like <paramref name="gradOutput"/>
    /// at position <paramref name="inputIndex"/> (the input x) and nulls elsewhere.
    /// </summary>
    public static List<Tensor> Run(string name, Tensor gradOutput, int inputs, Func<List<Tensor>> backward, int inputIndex = 1)
    {
        try
        {
            return backward();
        }
        catch (Exception e)
        {
            if (Interlocked.Exchange(ref _reported, 1) == 0)
                Console.Error.WriteLine($"normlab: the fused backward of {name} failed ({e.GetType().Name}: {e.Message.Split('\n')[0]}); its gradients are NaN");
            var result = new List<Tensor>();
            for (int i = 0; i < inputs; i++) result.Add(i == inputIndex ? full_like(gradOutput, double.NaN).MoveToOuterDisposeScope() : null!);
            return result;
        }
    }
}
