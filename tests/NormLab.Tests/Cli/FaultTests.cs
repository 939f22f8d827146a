using System.Diagnostics;
using System.Text.Json;
using NormLab.IO;
using NormLab.Tests.Support;

namespace NormLab.Tests.Cli;

/// <summary>
/// The CLI under faults: an unwritable output directory, a full disk, Ctrl-C during a study, invalid specs.
/// Each gives one line on stderr and a non-zero exit, and loses no completed result.
/// </summary>
public class FaultTests
{
    private static void AssertOneLineFailure(CliRunner.Result r, string fragment)
    {
        Assert.NotEqual(0, r.ExitCode);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one stderr line, got:\n{r.Err}");
        Assert.Contains(fragment, lines[0]);
        Assert.DoesNotContain("   at ", r.Err);
    }

    [Fact]
    public void Writing_commands_refuse_an_unwritable_output_directory_with_one_line()
    {
        using var dir = new CliRunner.TempDir();
        File.WriteAllText(dir["blocker"], "a file, not a directory");
        string outDir = Path.Combine(dir["blocker"], "out");
        var input = dir["x.npy"];
        using (var x = TorchSharp.torch.randn(new long[] { 4, 3 }, TorchSharp.torch.ScalarType.Float64)) AtomicFile.Write(input, s => Npy.Write(s, x));
        AssertOneLineFailure(CliRunner.Run("study", "--only", "E1", "--out", outDir), "not writable");
        AssertOneLineFailure(CliRunner.Run("apply", "--norm", "bn", "--input", input, "--out", outDir), "not writable");
        AssertOneLineFailure(CliRunner.Run("train", "--model", "mlp", "--norm", "bn", "--optim", "sgd(lr=0.1)", "--limit", "64", "--out", outDir), "not writable");
        AssertOneLineFailure(CliRunner.Run("bench", "--only", "bn", "--shape", "4,2,3,3", "--repeat", "1", "--json", Path.Combine(outDir, "b.json")), "does not exist");
        Assert.Equal("a file, not a directory", File.ReadAllText(dir["blocker"]));
    }

    [Fact]
    public void A_full_disk_leaves_the_previous_file_intact_and_no_partial_file()
    {
        using var dir = new CliRunner.TempDir();
        string path = dir["results.json"];
        AtomicFile.WriteText(path, "{\"complete\": true}");
        var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[4096]);
            throw new IOException("No space left on device");
        }));
        Assert.Contains("No space left", e.Message);
        Assert.Equal("{\"complete\": true}", File.ReadAllText(path));
        Assert.Equal(new[] { "results.json" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void A_failed_npy_write_leaves_no_partial_file_and_keeps_the_previous_one()
    {
        using var dir = new CliRunner.TempDir();
        string path = dir["x.npy"];
        using var good = TorchSharp.torch.ones(3, dtype: TorchSharp.torch.ScalarType.Float64);
        Npy.Write(path, good);
        var before = File.ReadAllBytes(path);
        using var bad = TorchSharp.torch.ones(3, dtype: TorchSharp.torch.ScalarType.Bool);
        Assert.ThrowsAny<ArgumentException>(() => Npy.Write(path, bad));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(new[] { "x.npy" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName));
        Assert.ThrowsAny<ArgumentException>(() => Npy.Write(dir["y.npy"], bad));
        Assert.False(File.Exists(dir["y.npy"]), "a failed write left an empty y.npy");
    }

    [Theory]
    [InlineData("apply", "--norm", "gn(groups=5)", "--input", "X", "--out", "D")]
    [InlineData("apply", "--norm", "nosuchnorm", "--input", "X", "--out", "D")]
    [InlineData("train", "--model", "cnn", "--norm", "bn(momentum=", "--optim", "sgd(lr=0.1)", "--out", "D")]
    [InlineData("train", "--model", "cnn", "--norm", "bn", "--optim", "nosuchoptim(lr=1)", "--out", "D")]
    [InlineData("bench", "--only", "gn(groups=0)")]
    [InlineData("study", "--only", "E9", "--out", "D")]
    public void Invalid_specs_give_one_line_and_write_nothing(params string[] args)
    {
        using var dir = new CliRunner.TempDir();
        using (var x = TorchSharp.torch.randn(new long[] { 4, 6, 2, 2 }, TorchSharp.torch.ScalarType.Float64)) AtomicFile.Write(dir["x.npy"], s => Npy.Write(s, x));
        var resolved = args.Select(a => a == "X" ? dir["x.npy"] : a == "D" ? dir["out"] : a).ToArray();
        var r = CliRunner.Run(resolved);
        Assert.NotEqual(0, r.ExitCode);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one stderr line, got:\n{r.Err}");
        Assert.DoesNotContain("   at ", r.Err);
        Assert.False(Directory.Exists(dir["out"]) && Directory.EnumerateFiles(dir["out"], "*", SearchOption.AllDirectories).Any(), "an invalid spec wrote output");
    }
}
