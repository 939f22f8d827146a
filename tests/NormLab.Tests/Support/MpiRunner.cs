using System.Diagnostics;
using System.Text;

namespace NormLab.Tests.Support;

/// <summary>
/// Runs the normlab CLI of the test output folder under Open MPI's <c>mpirun</c> on this machine, over
/// TCP on the loopback interface. Fails the test with a clear message when mpirun is missing (.ci/run
/// installs Debian's openmpi-bin and libopenmpi-dev).
/// </summary>
public static class MpiRunner
{
    public sealed record Result(int ExitCode, string Out, string Err, TimeSpan Elapsed)
    {
        public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalSeconds:F1} s\nstdout: {Out}\nstderr: {Err}";
    }

    /// <summary>The mpirun on PATH.</summary>
    public static string Mpirun =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "mpirun")).FirstOrDefault(File.Exists)
        ?? throw new Xunit.Sdk.XunitException("mpirun was not found on PATH: the MPI tests need Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev; .ci/run installs them)");

    /// <summary>The CLI next to the tests.</summary>
    public static string Cli => Path.Combine(AppContext.BaseDirectory, "normlab.dll");

    /// <summary>Starts mpirun -np <paramref name="p"/> [options] dotnet normlab.dll args.</summary>
    public static Process Start(int p, IEnumerable<string> args, double mpiTimeoutSeconds = 60, IEnumerable<string>? options = null)
    {
        var info = new ProcessStartInfo(Mpirun)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--allow-run-as-root", "--oversubscribe", "-np", p.ToString(), "--bind-to", "none",
                     "-x", $"NORMLAB_MPI_TIMEOUT={mpiTimeoutSeconds}", "-x", "TERM=dumb" }.Concat(options ?? Array.Empty<string>()).Concat(new[] { "dotnet", Cli }))
            info.ArgumentList.Add(a);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["OMPI_MCA_btl"] = "self,tcp";
        info.Environment["OMPI_MCA_btl_tcp_if_include"] = "lo";
        info.Environment["OMPI_MCA_oob_tcp_if_include"] = "lo";
        info.Environment["OMPI_MCA_mpi_yield_when_idle"] = "1";
        info.Environment["TERM"] = "dumb";
        return Process.Start(info) ?? throw new InvalidOperationException("mpirun did not start");
    }

    /// <summary>Runs mpirun -np p normlab args to completion (killed after 120 s).</summary>
    public static Result Run(int p, params string[] args) => Run(p, args, 120);

    /// <summary>Runs mpirun -np p [options] normlab args to completion (killed after 120 s).</summary>
    public static Result Run(int p, string[] options, params string[] args) => Run(p, args, 120, options: options);

    /// <summary>Runs mpirun to completion (killed after <paramref name="limitSeconds"/>).</summary>
    public static Result Run(int p, IEnumerable<string> args, double limitSeconds, double mpiTimeoutSeconds = 60, IEnumerable<string>? options = null)
    {
        var clock = Stopwatch.StartNew();
        using var process = Start(p, args, mpiTimeoutSeconds, options);
        var (stdout, stderr) = Capture(process);
        if (!process.WaitForExit(TimeSpan.FromSeconds(limitSeconds)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"mpirun -np {p} did not finish within {limitSeconds} s\nstdout: {stdout}\nstderr: {stderr}");
        }
        process.WaitForExit();
        return new Result(process.ExitCode, stdout.ToString(), stderr.ToString(), clock.Elapsed);
    }

    /// <summary>Collects a started process's output as it arrives.</summary>
    public static (StringBuilder Out, StringBuilder Err) Capture(Process process)
    {
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (stdout, stderr);
    }

    /// <summary>The process ids of mpirun's children, by MPI rank (read from /proc/PID/environ).</summary>
    public static Dictionary<int, int> Ranks(Process mpirun)
    {
        var ranks = new Dictionary<int, int>();
        foreach (var dir in Directory.GetDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1]) != mpirun.Id) continue;
                var rank = File.ReadAllText(Path.Combine(dir, "environ")).Split('\0')
                    .FirstOrDefault(v => v.StartsWith("OMPI_COMM_WORLD_RANK=", StringComparison.Ordinal));
                if (rank is not null) ranks[int.Parse(rank["OMPI_COMM_WORLD_RANK=".Length..])] = int.Parse(Path.GetFileName(dir));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        }
        return ranks;
    }
}
