using static TorchSharp.torch;

namespace NormLab.Data;

/// <summary>A labelled image split: images [N, 1, 28, 28] float32 in [0, 1] and labels int64 [N].</summary>
public sealed record ImageSplit(Tensor Images, Tensor Labels)
{
    /// <summary>The number of samples.</summary>
    public long Count => Labels.shape[0];
}

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

    /// <summary>Loads the training and test splits.</summary>
    /// <exception cref="FileNotFoundException">a file is missing (the message names the package).</exception>
    /// <exception cref="IdxFormatException">a file is corrupt, or images and labels disagree.</exception>
    public static (ImageSplit Train, ImageSplit Test) Load(string directory = DefaultDirectory)
    {
        var missing = Files(directory).FirstOrDefault(f => !File.Exists(f));
        if (missing is not null)
            throw new FileNotFoundException($"Fashion-MNIST file {missing} is missing; install the Debian package {Package} (apt-get install {Package})", missing);
        return (Split(directory, "train"), Split(directory, "t10k"));
    }

    private static string[] Files(string directory) => new[] { "train", "t10k" }
        .SelectMany(s => new[] { $"{s}-images-idx3-ubyte.gz", $"{s}-labels-idx1-ubyte.gz" })
        .Select(f => Path.Combine(directory, f)).ToArray();

    private static ImageSplit Split(string directory, string prefix)
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
        return new ImageSplit(images.to(ScalarType.Float32).div_(255).unsqueeze(1), labels.to(ScalarType.Int64));
    }
}
