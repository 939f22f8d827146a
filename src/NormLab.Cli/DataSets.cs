using NormLab.Data;

namespace NormLab.Cli;

/// <summary>The data sets commands can train and analyse on: the embedded synthetic default or Fashion-MNIST.</summary>
internal static class DataSets
{
    public static readonly string[] Names = { "synthetic", "fashion-mnist" };

    /// <summary>
    /// Images [N, 1, 28, 28] for the CNN or vectors for the MLP (synthetic), or Fashion-MNIST's images for
    /// both. Synthetic sizes: 6,000 training and 2,000 test samples.
    /// </summary>
    /// <exception cref="FileNotFoundException">Fashion-MNIST is not installed (the message names the package).</exception>
    public static LabeledDataset Load(string name, string model, long seed) => name switch
    {
        "fashion-mnist" => FashionMnist.Load(),
        _ when model == "mlp" => SyntheticData.Vectors(seed, train: 6000, test: 2000),
        _ => SyntheticData.Images(seed, train: 6000, test: 2000),
    };
}
