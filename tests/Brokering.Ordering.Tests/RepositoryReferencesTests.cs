using System.Text.RegularExpressions;
using Shouldly;

namespace Brokering.Ordering.Tests;

/// <summary>
/// Every reference in the code and the docs points at something in the repository (docs/conventions.md, "Comments"):
/// the design decisions and invariants code cites live in <c>docs/</c>, so a comment that explains itself by a design
/// document that is not checked in, or by an issue number, fails here. The benchmark log (docs/benchmarks.md) keeps
/// its issue-titled history.
/// </summary>
public sealed partial class RepositoryReferencesTests
{
    private static readonly string[] TextFiles = ["*.cs", "*.md", "*.sh", "*.js", "*.csproj", "*.props", "*.targets", "*.proto", "*.yml", "*.yaml", "*.sql"];

    private static readonly string[] Skipped = ["bin", "obj", "node_modules", ".git", ".local"];

    [Fact]
    public void No_comment_or_doc_explains_itself_by_a_document_or_an_issue_outside_the_repository()
    {
        var root = RepositoryRoot();
        var failures = new List<string>();
        foreach (var file in SourceFiles(root))
        {
            var relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                if (DesignDocument().IsMatch(lines[i]) || (relative != "docs/benchmarks.md" && IssueNumber().IsMatch(lines[i])))
                {
                    failures.Add($"{relative}:{i + 1}: {lines[i].Trim()}");
                }

                foreach (Match doc in DocsPath().Matches(lines[i]))
                {
                    if (!File.Exists(Path.Combine(root, doc.Value)))
                    {
                        failures.Add($"{relative}:{i + 1}: {doc.Value} is not in the repository");
                    }
                }
            }
        }

        failures.ShouldBeEmpty(string.Join("\n", failures));
    }

    private static IEnumerable<string> SourceFiles(string root)
    {
        var pending = new Stack<string>([root]);
        while (pending.TryPop(out var directory))
        {
            foreach (var child in Directory.EnumerateDirectories(directory).Where(d => !Skipped.Contains(Path.GetFileName(d))))
            {
                pending.Push(child);
            }

            foreach (var file in TextFiles.SelectMany(pattern => Directory.EnumerateFiles(directory, pattern)))
            {
                yield return file;
            }
        }
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Brokering.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Brokering.sln not found above the test output.");
    }

    [GeneratedRegex(@"DESIGN(\.md)?\s*§")]
    private static partial Regex DesignDocument();

    [GeneratedRegex(@"\bissues?\s+#\d+", RegexOptions.IgnoreCase)]
    private static partial Regex IssueNumber();

    [GeneratedRegex(@"(?<![\w/.-])docs/[A-Za-z0-9_-]+\.(md|png)")]
    private static partial Regex DocsPath();
}
