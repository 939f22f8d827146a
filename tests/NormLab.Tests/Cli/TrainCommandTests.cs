using System.Text.Json;
using NormLab.IO;
using NormLab.Tests.Support;

namespace NormLab.Tests.Cli;

/// <summary><c>normlab train</c> writes metrics, a monitor CSV and a checkpoint that <c>analyze hessian</c> loads.</summary>
public class TrainCommandTests
{
    [Fact]
    public void Train_writes_metrics_monitor_and_a_checkpoint_the_hessian_analysis_loads()
    {
        using var dir = new CliRunner.TempDir();
        var r = CliRunner.Run("train", "--model", "cnn", "--norm", "gn(groups=4)", "--optim", "sgd(lr=0.05,momentum=0.9)", "--batch-size", "16",
            "--epochs", "2", "--limit", "64", "--monitor", "2", "--threads", "1", "--out", dir["run"]);
        Assert.True(r.ExitCode == 0, r.Err);
        var csv = File.ReadAllLines(Path.Combine(dir["run"], "metrics.csv"));
        Assert.Equal("epoch,train_loss,test_loss,test_accuracy,seconds,images_per_second", csv[0]);
        Assert.Equal(3, csv.Length);
        var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["run"], "metrics.json"))).RootElement;
        Assert.Equal(2, metrics.GetProperty("result").GetProperty("Epochs").GetArrayLength());
        var monitor = File.ReadAllLines(Path.Combine(dir["run"], "monitor.csv"));
        Assert.Contains(monitor, l => l.StartsWith("2,activation_var,norm1,"));
        Assert.Contains(monitor, l => l.Contains(",effective_lr,conv1.weight,"));
        var checkpoint = Checkpoint.Load(Path.Combine(dir["run"], "model.ckpt"));
        Assert.Contains("\"Norm\":\"gn(groups=4)\"", checkpoint.Metadata["config"]);

        r = CliRunner.Run("analyze", "hessian", "--model", "cnn", "--checkpoint", Path.Combine(dir["run"], "model.ckpt"), "--samples", "16",
            "--json", dir["h.json"]);
        Assert.True(r.ExitCode == 0, r.Err);
        var h = JsonDocument.Parse(File.ReadAllText(dir["h.json"])).RootElement;
        Assert.True(double.IsFinite(h.GetProperty("top_eigenvalues")[0].GetDouble()));
        Assert.True(h.GetProperty("parameters").GetInt64() > 1000);

        r = CliRunner.Run("analyze", "hessian", "--model", "mlp", "--norm", "bn", "--samples", "32", "--json", dir["m.json"]);
        Assert.True(r.ExitCode == 0, r.Err);
        r = CliRunner.Run("analyze", "hessian", "--model", "mlp", "--checkpoint", Path.Combine(dir["run"], "model.ckpt"), "--json", dir["x.json"]);
        Assert.Contains("--model mlp but the checkpoint holds a cnn", r.Err);
    }

    [Fact]
    public void Bad_training_arguments_give_one_line_errors()
    {
        var cases = new (string[] Args, string Fragment)[]
        {
            (new[] { "train", "--model", "rnn" }, "--model must be one of mlp|cnn"),
            (new[] { "train", "--norm", "gn(groups=5)", "--limit", "8" }, "groups (5) must divide num_channels (16)"),
            (new[] { "train", "--optim", "lamb(lr=-1)", "--limit", "8" }, "lr"),
            (new[] { "train", "--widths", "16,x,64" }, "--widths must be positive integers"),
            (new[] { "train", "--batch-size", "0", "--limit", "8" }, "batch size (0) must be at least 1"),
        };
        foreach (var (args, fragment) in cases)
        {
            var r = CliRunner.Run(args.Append("--out").Append(Path.Combine(Path.GetTempPath(), "normlab-bad-train")).ToArray());
            Assert.NotEqual(0, r.ExitCode);
            Assert.Contains(fragment, r.Err);
            Assert.Single(r.Err.TrimEnd().Split('\n'));
        }
    }
}
