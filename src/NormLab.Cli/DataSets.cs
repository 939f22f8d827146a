using NormLab.Data;

namespace NormLab.Cli;

/// <summary>The data sets commands can train and analyse on: the embedded synthetic default or Fashion-MNIST.</summary>
internal static class DataSets
{
    public static readonly string[] Names = { "synthetic", "fashion-mnist" };

    /// <summary>
    /// Images [N, 1, 28, 28] for the CNN or vectors for the MLP (synthetic), or Fashion-MNIST's images for
    /// both. Synthetic sizes: <paramref name="train"/> training samples (default 6,000) and a third as many
    /// test samples (200 to 2,000); generating only what a command uses keeps small runs fast.
    /// </summary>
    /// <exception cref="FileNotFoundException">Fashion-MNIST is not installed (the message names the package).</exception>
    public static LabeledDataset Load(string name, string model, long seed, int train = 6000)
    {
        int test = Math.Clamp(train / 3, 200, 2000);
        return name switch
        {
            "fashion-mnist" => FashionMnist.Load(),
            _ when model == "mlp" => SyntheticData.Vectors(seed, train, test),
            _ => SyntheticData.Images(seed, train, test),
        };
    }
}
