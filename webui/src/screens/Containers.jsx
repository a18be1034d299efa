export default function Containers() {
  return <h2>Containers</h2>;
}
