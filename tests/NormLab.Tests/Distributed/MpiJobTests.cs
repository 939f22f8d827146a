using System.Diagnostics;
using System.Text.Json;
using NormLab.Tests.Support;

namespace NormLab.Tests.Distributed;

/// <summary>
/// Acceptance under Open MPI's mpirun on loopback: the binding's collectives, data-parallel training
/// against one process with the global batch, faults (a killed or frozen rank), and setup errors.
/// </summary>
public class MpiJobTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void CollectivesAreCorrectOnEveryRank(int p)
    {
        var r = MpiRunner.Run(p, "mpi", "--length", "100003");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains($"mpi: {p} rank(s), Open MPI (libmpi.so.40", r.Out);
        Assert.Contains("correct on every rank", r.Out);
    }

    [Fact]
    public void TrainingOnTwoProcessesFollowsOneProcessWithTheGlobalBatchFor20Steps()
    {
        using var dir = new CliRunner.TempDir();
        string[] Args(int batch, string outDir) => new[]
        {
            "train", "--model", "cnn", "--widths", "4,8,8", "--norm", "bn(sync=true)", "--optim", "lamb(lr=0.01)",
            "--batch-size", batch.ToString(), "--limit", "320", "--epochs", "1", "--record-every", "1", "--threads", "1", "--out", outDir,
        };
        var one = CliRunner.Run(Args(16, dir["one"]));
        Assert.True(one.ExitCode == 0, one.Err);
        var two = MpiRunner.Run(2, Args(8, dir["two"]), limitSeconds: 180);
        Assert.True(two.ExitCode == 0, two.ToString());
        Assert.Contains("data-parallel over 2 processes, batch 8 per process, global batch 16", two.Out);
        Assert.Contains("the 2 replicas hold bit-identical parameters and buffers", two.Out);

        double[] Losses(string d)
        {
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(d, "metrics.json")));
            return json.RootElement.GetProperty("result").GetProperty("StepLosses").EnumerateArray().Select(s => s[1].GetDouble()).ToArray();
        }
        var expected = Losses(dir["one"]);
        var actual = Losses(dir["two"]);
        Assert.Equal(20, expected.Length);
        Assert.Equal(20, actual.Length);
        for (int i = 0; i < 20; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 2e-5 * Math.Abs(expected[i]),
                $"step {i + 1}: loss {actual[i]:R} on 2 processes vs {expected[i]:R} on one");
        Assert.True(File.Exists(Path.Combine(dir["two"], "model.ckpt")));
    }

    [Theory]
    [InlineData("KILL")]
    [InlineData("STOP")]
    public void WhenOneRankDiesOrFreezesTheOthersExitWithAClearErrorWithinTheTimeout(string signal)
    {
        using var dir = new CliRunner.TempDir();
        var clock = Stopwatch.StartNew();
        using var mpirun = MpiRunner.Start(2, new[]
        {
            "train", "--model", "cnn", "--widths", "4,8,8", "--norm", "bn(sync=true)", "--batch-size", "8", "--epochs", "100",
            "--threads", "1", "--out", dir["out"],
        }, mpiTimeoutSeconds: 5);
        var (stdout, stderr) = MpiRunner.Capture(mpirun);
        while (!Output(stdout).Contains("] 3/") && clock.Elapsed < TimeSpan.FromSeconds(60) && !mpirun.HasExited) Thread.Sleep(100);
        Assert.True(Output(stdout).Contains("] 3/"), $"training did not start within 60 s\nstdout: {Output(stdout)}\nstderr: {Output(stderr)}");
        var ranks = MpiRunner.Ranks(mpirun);
        Assert.True(ranks.ContainsKey(1), $"rank 1 not found among mpirun's children: {string.Join(", ", ranks)}");
        using (var victim = Process.GetProcessById(ranks[1]))
            Process.Start("kill", new[] { "-" + signal, victim.Id.ToString() })!.WaitForExit();
        var killed = clock.Elapsed;

        bool exited = mpirun.WaitForExit(TimeSpan.FromSeconds(30));
        if (!exited) mpirun.Kill(entireProcessTree: true);
        mpirun.WaitForExit();
        string err = Output(stderr);
        Assert.True(exited, $"mpirun still running 30 s after SIG{signal} to rank 1\nstderr: {err}");
        Assert.NotEqual(0, mpirun.ExitCode);
        // A killed peer: mpirun stops the survivor (SIGTERM), or its all-reduce fails first. A frozen peer: the deadline.
        var messages = signal == "KILL"
            ? new[] { "normlab: rank 0/2: stopped by the MPI launcher (SIGTERM), most likely because another rank failed", "normlab: rank 0/2: MPI all-reduce failed: " }
            : new[] { "normlab: rank 0/2: MPI all-reduce did not complete within 5 s: another rank has died or stopped responding; exiting" };
        Assert.True(messages.Any(err.Contains), $"no clear error from rank 0 after SIG{signal} to rank 1 (exit after {(clock.Elapsed - killed).TotalSeconds:F1} s)\nstderr: {err}");
    }

    [Fact]
    public void AMissingMpiLibraryIsAOneLineError()
    {
        var r = MpiRunner.Run(1, new[] { "-x", "NORMLAB_LIBMPI=/nonexistent/libmpi.so.40" }, "mpi");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("normlab mpi: MPI: cannot load /nonexistent/libmpi.so.40", r.Err);
        Assert.Contains("apt-get install openmpi-bin libopenmpi-dev", r.Err);
    }

    [Fact]
    public void ABatchSmallerThanTheJobIsAClearError()
    {
        using var dir = new CliRunner.TempDir();
        NormLab.IO.Npy.Write(dir["x.npy"], new Rand(1).Normal(2, 3));
        var r = MpiRunner.Run(3, "apply", "--norm", "bn(sync=true)", "--input", dir["x.npy"], "--out", dir["out"]);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--input has shape [2, 3]: 3 processes need a batch of at least 3 samples (one per process)", r.Err);
    }

    private static string Output(System.Text.StringBuilder b)
    {
        lock (b) return b.ToString();
    }
}
