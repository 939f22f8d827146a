using System.IO.Compression;
using NormLab.Data;
using NormLab.Tests.Support;
using static TorchSharp.torch;

namespace NormLab.Tests.Data;

/// <summary>The IDX reader and the Fashion-MNIST loader on generated files.</summary>
public class IdxTests
{
    internal static byte[] IdxBytes(byte[] data, params int[] shape)
    {
        var b = new List<byte> { 0, 0, 0x08, (byte)shape.Length };
        foreach (var d in shape) b.AddRange(new[] { (byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d });
        b.AddRange(data);
        return b.ToArray();
    }

    internal static void WriteGz(string path, byte[] bytes)
    {
        using var f = File.Create(path);
        using var gz = new GZipStream(f, CompressionLevel.Fastest);
        gz.Write(bytes);
    }

    [Fact]
    public void Reads_raw_and_gzip_files()
    {
        using var dir = new CliRunner.TempDir();
        var data = Enumerable.Range(0, 24).Select(i => (byte)(i * 10)).ToArray();
        File.WriteAllBytes(dir["a.idx"], IdxBytes(data, 2, 3, 4));
        WriteGz(dir["a.idx.gz"], IdxBytes(data, 2, 3, 4));
        foreach (var path in new[] { dir["a.idx"], dir["a.idx.gz"] })
        {
            var t = Idx.Read(path);
            Assert.Equal(new long[] { 2, 3, 4 }, t.shape);
            Assert.Equal(ScalarType.Byte, t.dtype);
            Assert.Equal(data, t.data<byte>().ToArray());
        }
    }

    public static TheoryData<string, byte[], string> Malformed() => new()
    {
        { "short magic", new byte[] { 0, 0 }, "truncated" },
        { "bad magic", IdxBytes(new byte[4], 4).Select((b, i) => i == 0 ? (byte)7 : b).ToArray(), "not an IDX file" },
        { "float type", IdxBytes(new byte[4], 4).Select((b, i) => i == 2 ? (byte)0x0D : b).ToArray(), "data type 0x0D" },
        { "rank 9", IdxBytes(new byte[4], 4).Select((b, i) => i == 3 ? (byte)9 : b).ToArray(), "rank 9" },
        { "truncated dims", IdxBytes(new byte[4], 4, 1)[..9], "truncated" },
        { "truncated data", IdxBytes(new byte[10], 10)[..^3], "data ends after 7 of 10 bytes" },
        { "extra data", IdxBytes(new byte[11], 10), "continues past" },
        { "huge", IdxBytes(new byte[4], 60000, 60000, 60000), "declares more than" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_files_give_clear_errors(string name, byte[] bytes, string fragment)
    {
        _ = name;
        var e = Assert.Throws<IdxFormatException>(() => Idx.Read(new MemoryStream(bytes), "f.idx"));
        Assert.Contains(fragment, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Corrupt_gzip_is_a_clear_error()
    {
        using var dir = new CliRunner.TempDir();
        var good = new MemoryStream();
        using (var gz = new GZipStream(good, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(IdxBytes(new byte[1000], 1000));
        var bytes = good.ToArray();
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(dir["c.gz"], bytes);
        var e = Assert.ThrowsAny<FormatException>(() => Idx.Read(dir["c.gz"]));
        Assert.Contains("c.gz", e.Message);
    }

    [Fact]
    public void Fashion_mnist_loads_scaled_images_and_labels_or_names_the_missing_package()
    {
        using var dir = new CliRunner.TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(dir.Path));
        Assert.Contains("dataset-fashion-mnist", e.Message);
        Assert.False(FashionMnist.IsAvailable(dir.Path));
        foreach (var (split, n) in new[] { ("train", 3), ("t10k", 2) })
        {
            var pixels = Enumerable.Range(0, n * 784).Select(i => (byte)(i % 256)).ToArray();
            WriteGz(dir[$"{split}-images-idx3-ubyte.gz"], IdxBytes(pixels, n, 28, 28));
            WriteGz(dir[$"{split}-labels-idx1-ubyte.gz"], IdxBytes(Enumerable.Range(0, n).Select(i => (byte)(i + 3)).ToArray(), n));
        }
        using var data = FashionMnist.Load(dir.Path);
        Assert.Equal(new long[] { 3, 1, 28, 28 }, data.TrainX.shape);
        Assert.Equal(2, data.TestY.shape[0]);
        Assert.Equal(10, data.Classes);
        Assert.Equal(255 / 255.0f, data.TrainX.max().item<float>());
        Assert.Equal(new long[] { 3, 4, 5 }, data.TrainY.data<long>().ToArray());
        WriteGz(dir["t10k-labels-idx1-ubyte.gz"], IdxBytes(new byte[] { 1, 12 }, 2));
        var bad = Assert.Throws<IdxFormatException>(() => FashionMnist.Load(dir.Path));
        Assert.Contains("label 12 is outside the 10 classes", bad.Message);
    }
}
