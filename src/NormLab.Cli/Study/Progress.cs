using System.Diagnostics;

namespace NormLab.Cli.Study;

/// <summary>
/// Progress of a long task: a redrawn bar with a rate and an estimate of the time left when the output
/// is a terminal, plain lines (at most one per 10% and at the end) when it is not.
/// </summary>
internal sealed class Progress
{
    private readonly TextWriter _out;
    private readonly bool _interactive;
    private string _task = "";
    private long _total;
    private long _done;
    private int _lastDecile = -1;
    private readonly Stopwatch _clock = new();

    /// <summary>Reports to <paramref name="output"/>; a bar when <paramref name="interactive"/>.</summary>
    public Progress(TextWriter output, bool interactive)
    {
        _out = output;
        _interactive = interactive;
    }

    /// <summary>Progress on the console: a bar unless the output is redirected.</summary>
    public static Progress ForConsole(TextWriter output) => new(output, output == Console.Out && !Console.IsOutputRedirected);

    /// <summary>Starts a task of <paramref name="total"/> units.</summary>
    public void Start(string task, long total)
    {
        _task = task;
        _total = Math.Max(total, 1);
        _done = 0;
        _lastDecile = -1;
        _clock.Restart();
        Draw();
    }

    /// <summary>Marks units done.</summary>
    public void Advance(long units = 1)
    {
        _done = Math.Min(_total, _done + units);
        Draw();
    }

    /// <summary>Ends the task with a summary line.</summary>
    public void Finish(string summary)
    {
        if (_interactive) _out.Write("\r\u001b[2K");
        _out.WriteLine($"{_task}: {summary} ({_clock.Elapsed.TotalSeconds:F1} s)");
        _out.Flush();
    }

    /// <summary>A line outside any task.</summary>
    public void Line(string message)
    {
        if (_interactive) _out.Write("\r\u001b[2K");
        _out.WriteLine(message);
        _out.Flush();
    }

    private void Draw()
    {
        double fraction = (double)_done / _total;
        double seconds = _clock.Elapsed.TotalSeconds;
        string eta = _done > 0 && _done < _total ? $", ~{seconds / _done * (_total - _done):F0} s left" : "";
        if (_interactive)
        {
            const int width = 30;
            int filled = (int)Math.Round(fraction * width);
            _out.Write($"\r\u001b[2K{_task} [{new string('#', filled)}{new string('.', width - filled)}] {_done}/{_total}{eta}");
            _out.Flush();
            return;
        }
        int decile = (int)(fraction * 10);
        if (decile > _lastDecile && (decile > 0 || _done == 0))
        {
            _lastDecile = decile;
            _out.WriteLine($"{_task}: {_done}/{_total} ({fraction:P0}{eta})");
            _out.Flush();
        }
    }
}
