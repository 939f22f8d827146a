using NormLab.Data;

namespace NormLab.Cli;

/// <summary>The data sets commands can train and analyse on: the embedded synthetic default or Fashion-MNIST.</summary>
internal static class DataSets
{
    public static readonly string[] Names = { "synthetic", "fashion-mnist" };

    /// <summary>
    /// Makes sure the named data set can be loaded: Fashion-MNIST is installed from Debian's
    /// <c>dataset-fashion-mnist</c> package on first use when apt-get can be run (as root or through sudo -n).
    /// </summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="log">Where a note goes when a package is installed.</param>
    /// <exception cref="FileNotFoundException">Fashion-MNIST is missing and could not be installed (the message names the package and why).</exception>
    public static void EnsureAvailable(string name, TextWriter log)
    {
        if (name != "fashion-mnist" || FashionMnist.IsAvailable()) return;
        string? failure = DebianPackage.TryInstall(FashionMnist.Package, log);
        if (failure is null && FashionMnist.IsAvailable()) return;
        throw new FileNotFoundException($"Fashion-MNIST is not installed in {FashionMnist.DefaultDirectory} and installing the Debian package {FashionMnist.Package} failed ({failure ?? "the files are still missing"}); install it with apt-get install {FashionMnist.Package}");
    }

    /// <summary>
    /// Images [N, 1, 28, 28] for the CNN or vectors for the MLP (synthetic), or Fashion-MNIST's images for
    /// both. Synthetic sizes: <paramref name="train"/> training samples (default 6,000) and a third as many
    /// test samples (200 to 2,000); generating only what a command uses keeps small runs fast.
    /// </summary>
    /// <exception cref="FileNotFoundException">Fashion-MNIST is missing and could not be installed (the message names the package).</exception>
    public static LabeledDataset Load(string name, string model, long seed, int train = 6000, TextWriter? log = null)
    {
        EnsureAvailable(name, log ?? TextWriter.Null);
        int test = Math.Clamp(train / 3, 200, 2000);
        return name switch
        {
            "fashion-mnist" => FashionMnist.Load(),
            _ when model == "mlp" => SyntheticData.Vectors(seed, train, test),
            _ => SyntheticData.Images(seed, train, test),
        };
    }
}
