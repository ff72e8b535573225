/**
 * Functions longer than a reader holds in mind, read with the compiler's parser. A function may
 * be longer when the comment above it says why, with the words "long because" or "over 80 lines
 * on purpose" (a catalog of routes or instruments reads better whole than split).
 */
import { readFileSync } from 'node:fs';
import ts from 'typescript';

export interface LongFunction {
  file: string;
  line: number;
  name: string;
  lines: number;
  reasoned: boolean;
}

/** The statement or property a function is declared by, whose leading comment documents it. */
function documentedNode(node: ts.Node): ts.Node {
  let current: ts.Node = node;
  while (
    current.parent &&
    (ts.isVariableDeclaration(current.parent) ||
      ts.isVariableDeclarationList(current.parent) ||
      ts.isVariableStatement(current.parent) ||
      ts.isPropertyAssignment(current.parent) ||
      ts.isExportAssignment(current.parent) ||
      ts.isCallExpression(current.parent))
  ) {
    current = current.parent;
  }
  return current;
}

function nameOf(node: ts.Node, source: ts.SourceFile): string {
  const named = node as { name?: ts.Node };
  if (named.name) return named.name.getText(source);
  const parent = node.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)))
    return parent.name.getText(source);
  return '(anonymous)';
}

export function longFunctions(file: string, text: string, maxLines: number): LongFunction[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: LongFunction[] = [];
  const visit = (node: ts.Node) => {
    if (
      ts.isFunctionDeclaration(node) ||
      ts.isArrowFunction(node) ||
      ts.isFunctionExpression(node) ||
      ts.isMethodDeclaration(node)
    ) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      if (lines > maxLines) {
        const documented = documentedNode(node);
        const comments = ts.getLeadingCommentRanges(text, documented.getFullStart()) ?? [];
        const reasoned = comments.some((c) =>
          /long because|over\s+80[\s*]+lines\s+on\s+purpose/i.test(text.slice(c.pos, c.end)),
        );
        found.push({ file, line: first + 1, name: nameOf(node, source), lines, reasoned });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

export function longFunctionsIn(files: readonly string[], root: string, maxLines: number): LongFunction[] {
  return files.flatMap((file) => longFunctions(file, readFileSync(`${root}${file}`, 'utf8'), maxLines));
}
