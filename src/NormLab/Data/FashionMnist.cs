using static TorchSharp.torch;

namespace NormLab.Data;

/// <summary>
/// Fashion-MNIST (Xiao, Rasul &amp; Vollgraf 2017) from the IDX files of Debian's
/// <c>dataset-fashion-mnist</c> package: 60,000 training and 10,000 test images of 28×28, 10 classes.
/// </summary>
public static class FashionMnist
{
    /// <summary>Where Debian's package installs the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The Debian package that provides them.</summary>
    public const string Package = "dataset-fashion-mnist";

    /// <summary>Whether all four files exist in <paramref name="directory"/>.</summary>
    public static bool IsAvailable(string directory = DefaultDirectory) => Files(directory).All(File.Exists);

    /// <summary>Loads the training and test splits: images [N, 1, 28, 28] float32 in [0, 1], labels int64 in 0..9.</summary>
    /// <exception cref="FileNotFoundException">a file is missing (the message names the package).</exception>
    /// <exception cref="IdxFormatException">a file is corrupt, or images and labels disagree.</exception>
    public static LabeledDataset Load(string directory = DefaultDirectory)
    {
        var missing = Files(directory).FirstOrDefault(f => !File.Exists(f));
        if (missing is not null)
            throw new FileNotFoundException($"Fashion-MNIST file {missing} is missing; install the Debian package {Package} (apt-get install {Package})", missing);
        var (trainX, trainY) = Split(directory, "train");
        var (testX, testY) = Split(directory, "t10k");
        return new LabeledDataset(trainX, trainY, testX, testY, 10);
    }

    private static string[] Files(string directory) => new[] { "train", "t10k" }
        .SelectMany(s => new[] { $"{s}-images-idx3-ubyte.gz", $"{s}-labels-idx1-ubyte.gz" })
        .Select(f => Path.Combine(directory, f)).ToArray();

    private static (Tensor Images, Tensor Labels) Split(string directory, string prefix)
    {
        string imagesPath = Path.Combine(directory, $"{prefix}-images-idx3-ubyte.gz");
        string labelsPath = Path.Combine(directory, $"{prefix}-labels-idx1-ubyte.gz");
        using var images = Idx.Read(imagesPath);
        using var labels = Idx.Read(labelsPath);
        if (images.dim() != 3 || images.shape[1] != 28 || images.shape[2] != 28)
            throw new IdxFormatException($"{imagesPath}: expected images [N, 28, 28], got shape [{string.Join(", ", images.shape)}]");
        if (labels.dim() != 1 || labels.shape[0] != images.shape[0])
            throw new IdxFormatException($"{labelsPath}: expected {images.shape[0]} labels, got shape [{string.Join(", ", labels.shape)}]");
        if (labels.numel() > 0 && labels.max().item<byte>() > 9)
            throw new IdxFormatException($"{labelsPath}: label {labels.max().item<byte>()} is outside the 10 classes");
        return (images.to(ScalarType.Float32).div_(255).unsqueeze(1), labels.to(ScalarType.Int64));
    }
}
