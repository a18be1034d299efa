export default function System() {
  return <h2>System</h2>;
}
