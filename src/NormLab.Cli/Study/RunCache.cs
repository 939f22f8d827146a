using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NormLab.IO;

namespace NormLab.Cli.Study;

/// <summary>
/// Completed units of work (training runs, analyses), stored as JSON files under DIR/cache, keyed by a
/// hash of everything that determines their result. An interrupted study resumes from them; a changed
/// setting gives a new key, so stale results are never reused.
/// </summary>
internal sealed class RunCache
{
    private readonly string _directory;

    /// <summary>Uses (and creates) <paramref name="directory"/>.</summary>
    public RunCache(string directory)
    {
        _directory = directory;
        Directory.CreateDirectory(directory);
    }

    /// <summary>The number of cached results read back during this run.</summary>
    public int Hits { get; private set; }

    /// <summary>The number of results computed and stored during this run.</summary>
    public int Misses { get; private set; }

    /// <summary>The cached result for <paramref name="key"/>, or the result of <paramref name="run"/>, which is stored before it is returned.</summary>
    public T GetOrRun<T>(string key, Func<T> run)
    {
        string path = PathOf(key);
        if (File.Exists(path))
        {
            try
            {
                var cached = JsonSerializer.Deserialize<Entry<T>>(File.ReadAllText(path), JsonFiles.Options);
                if (cached is not null && cached.Key == key && cached.Value is not null)
                {
                    Hits++;
                    return cached.Value;
                }
            }
            catch (JsonException) { }
        }
        var value = run();
        AtomicFile.WriteText(path, JsonSerializer.Serialize(new Entry<T>(key, value), JsonFiles.Options));
        Misses++;
        return value;
    }

    private string PathOf(string key)
    {
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16].ToLowerInvariant();
        var label = new string(key.Select(c => char.IsLetterOrDigit(c) ? c : '-').ToArray());
        return Path.Combine(_directory, $"{label[..Math.Min(label.Length, 60)]}-{hash}.json");
    }

    private sealed record Entry<T>(string Key, T Value);
}
