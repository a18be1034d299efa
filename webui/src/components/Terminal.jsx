// Placeholder: replaced by the container helper (xterm.js via dynamic import()).
export default function Terminal() {
  return <h2 data-testid="terminal">Terminal</h2>;
}
