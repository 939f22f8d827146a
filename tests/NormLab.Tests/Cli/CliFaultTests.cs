using System.Diagnostics;
using System.Text.Json;
using NormLab.IO;
using NormLab.Tests.Support;

namespace NormLab.Tests.Cli;

/// <summary>
/// The CLI under faults, end to end in child processes and on a real full disk (unwritable outputs,
/// invalid specs and failing writes are in <see cref="FaultTests"/>). Each ends with one line on
/// stderr and a non-zero exit code, and no completed result is lost or left half-written.
/// </summary>
public class CliFaultTests
{
    private static string Normlab => Path.Combine(AppContext.BaseDirectory, "normlab.dll");

    [Fact]
    public void Ctrl_c_during_a_study_keeps_the_finished_experiments_and_the_next_run_resumes()
    {
        using var dir = new CliRunner.TempDir();
        // A shell starts the study, waits for E1's verdict, presses "Ctrl-C" (SIGINT) during E2, and reports
        // the exit code. env --default-signal: a background job starts with SIGINT ignored, unlike a
        // terminal's foreground process.
        string script = $"env --default-signal=INT TERM=dumb dotnet '{Normlab}' study --quick --only E1,E2 --threads 1 --out '{dir.Path}' > '{dir["stdout"]}' 2> '{dir["stderr"]}' & pid=$!; " +
                        $"for i in $(seq 600); do grep -q '^E1 .*claim' '{dir["stdout"]}' && break; sleep 0.1; done; sleep 0.5; kill -INT $pid; wait $pid; echo $?";
        using var shell = Process.Start(new ProcessStartInfo("bash", new[] { "-c", script }) { RedirectStandardOutput = true })!;
        string code = shell.StandardOutput.ReadToEnd().Trim();
        Assert.True(shell.WaitForExit(TimeSpan.FromSeconds(120)), "the study did not stop after SIGINT");
        string err = File.ReadAllText(dir["stderr"]).Trim();
        Assert.True(code == "130", $"exit code {code}, stderr: {err}");
        Assert.Single(err.Split('\n'));
        Assert.Contains("interrupted", err);
        Assert.Contains("the next run resumes", err);
        foreach (var file in new[] { "e1.csv", "results.json", "report.html", "report.md" }) Assert.True(File.Exists(dir[file]), $"{file} was lost");
        using (JsonDocument.Parse(File.ReadAllText(dir["results.json"]))) { }
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp-*", SearchOption.AllDirectories));

        var resumed = CliRunner.Run("study", "--quick", "--only", "E1", "--threads", "1", "--out", dir.Path);
        Assert.Equal(0, resumed.ExitCode);
        Assert.Contains("(1 cached, 0 computed)", resumed.Out);
    }

    [Fact]
    public void A_full_disk_is_one_line_and_leaves_only_complete_files()
    {
        using var dir = new CliRunner.TempDir();
        if (!MountTinyTmpfs(dir.Path))
        {
            // No tmpfs without root: the same guarantee one level down, with a write that fails midway.
            new FaultTests().A_full_disk_leaves_the_previous_file_intact_and_no_partial_file();
            return;
        }
        try
        {
            var r = CliRunner.Run("study", "--scale", "tiny", "--threads", "1", "--out", dir.Path);
            Assert.NotEqual(0, r.ExitCode);
            Assert.Single(r.Err.Trim().Split('\n'));
            Assert.Contains("No space left on device", r.Err);
            Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp-*", SearchOption.AllDirectories));
            foreach (var json in Directory.GetFiles(dir.Path, "*.json", SearchOption.AllDirectories))
                using (JsonDocument.Parse(File.ReadAllText(json))) { }
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(dir.Path, "cache"), "*.json"));
        }
        finally
        {
            using var umount = Process.Start("umount", new[] { dir.Path });
            umount.WaitForExit();
        }
    }

    private static bool MountTinyTmpfs(string path)
    {
        try
        {
            using var mount = Process.Start(new ProcessStartInfo("mount", new[] { "-t", "tmpfs", "-o", "size=192k", "tmpfs", path }) { RedirectStandardError = true })!;
            mount.WaitForExit();
            return mount.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }
}
